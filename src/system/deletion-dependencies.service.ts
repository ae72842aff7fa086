import { In, IsNull, Not, type DataSource, type EntityManager } from 'typeorm';
import { Loan, LoanStatus, LoanType, Role, Union, UnionMember, User } from '../domain';
import { BadUserInputError, NotFoundError } from '../errors/kiln-errors';
import { DependencyEntity, DependencyReport } from './dependency-report.type';

/** A loan in any other status still has money or a decision outstanding. */
const CLOSED_LOAN_STATUSES = [LoanStatus.COMPLETED, LoanStatus.CANCELED, LoanStatus.WRITTEN_OFF];

/** One blocking dependency and what the admin should do about it. */
interface Finding {
  type: 'protected' | 'unions' | 'members' | 'loans' | 'supervised';
  count: number;
  message: string;
  suggestion: string;
}

export interface DeletionDependenciesOptions {
  /** The super admin that a system reset creates; never deletable. */
  superAdminEmail?: string;
}

/**
 * Says whether a lending record may be deleted, with the rules of the
 * Millennium Potters app (its `checkDeletionDependencies`): soft-deleted rows
 * never count, every dependency found blocks, and each comes with a suggestion.
 */
export class DeletionDependenciesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly options: DeletionDependenciesOptions = {},
  ) {}

  /** Throws NotFoundError when the record does not exist or is soft-deleted. `id` as the API validated it (DeletionDependenciesArgs). */
  async check(entityType: DependencyEntity, id: string): Promise<DependencyReport> {
    // One snapshot, so the counts agree with each other.
    const findings = await this.dataSource.transaction('REPEATABLE READ', (tx) => {
      switch (entityType) {
        case DependencyEntity.USER:
          return this.userFindings(tx, id);
        case DependencyEntity.UNION:
          return this.unionFindings(tx, id);
        case DependencyEntity.UNION_MEMBER:
          return this.memberFindings(tx, id);
        case DependencyEntity.LOAN_TYPE:
          return this.loanTypeFindings(tx, id);
        default:
          throw new BadUserInputError(`Unknown entityType ${JSON.stringify(entityType satisfies never)}`);
      }
    });
    return Object.assign(new DependencyReport(), {
      canDelete: findings.length === 0,
      dependencies: findings.map(({ type, count, message }) => ({ type, count, message })),
      suggestions: findings.map((f) => f.suggestion),
    });
  }

  private async userFindings(tx: EntityManager, id: string): Promise<Finding[]> {
    const user = await tx.getRepository(User).findOne({
      select: { id: true, email: true, role: true, isActive: true },
      where: { id, deletedAt: IsNull() },
    });
    if (!user) throw new NotFoundError('User', id);

    // As in the app, a protected account is refused outright: its other dependencies do not matter.
    const protectedReason = await this.protectedReason(tx, user);
    if (protectedReason) return [protectedReason];

    const unions = await tx.getRepository(Union).countBy({ creditOfficerId: id, deletedAt: IsNull() });
    const members = await tx.getRepository(UnionMember).countBy({ currentOfficerId: id, deletedAt: IsNull() });
    // Distinct loans: one the user both created and is assigned to counts once.
    const loans = await tx.getRepository(Loan).countBy([
      { createdByUserId: id, ...activeLoan() },
      { assignedOfficerId: id, ...activeLoan() },
    ]);
    const supervised = await tx.getRepository(User).countBy({ supervisorId: id, deletedAt: IsNull() });

    return compact([
      unions && {
        type: 'unions',
        count: unions,
        message: `This user manages ${plural(unions, 'union')}`,
        suggestion: 'Reassign the unions to another credit officer before deleting',
      },
      members && {
        type: 'members',
        count: members,
        message: `This user is assigned to ${plural(members, 'member')}`,
        suggestion: 'Reassign the members (or their unions) to another credit officer before deleting',
      },
      loans && {
        type: 'loans',
        count: loans,
        message: `This user has ${plural(loans, 'active loan')}`,
        suggestion: 'Complete or reassign the active loans before deleting',
      },
      supervised && {
        type: 'supervised',
        count: supervised,
        message: `This supervisor manages ${plural(supervised, 'credit officer')}`,
        suggestion: 'Reassign the credit officers to another supervisor before deleting',
      },
    ]);
  }

  /** The super admin, and the last active admin (deleting it would lock everybody out). */
  private async protectedReason(tx: EntityManager, user: User): Promise<Finding | null> {
    const superAdminEmail = this.options.superAdminEmail?.toLowerCase();
    if (superAdminEmail && user.email.toLowerCase() === superAdminEmail) {
      return {
        type: 'protected',
        count: 1,
        message: 'The super admin cannot be deleted',
        suggestion: 'Keep the super admin; deactivate or delete other accounts instead',
      };
    }
    if (user.role !== Role.ADMIN || !user.isActive) return null;
    const activeAdmins = await tx.getRepository(User).countBy({ role: Role.ADMIN, isActive: true, deletedAt: IsNull() });
    if (activeAdmins > 1) return null;
    return {
      type: 'protected',
      count: 1,
      message: 'The last active administrator cannot be deleted',
      suggestion: 'Create or activate another administrator first',
    };
  }

  private async unionFindings(tx: EntityManager, id: string): Promise<Finding[]> {
    if (!(await tx.getRepository(Union).existsBy({ id, deletedAt: IsNull() }))) throw new NotFoundError('Union', id);
    const members = await tx.getRepository(UnionMember).countBy({ unionId: id, deletedAt: IsNull() });
    const loans = await tx.getRepository(Loan).countBy({ unionId: id, ...activeLoan() });
    return compact([
      members && {
        type: 'members',
        count: members,
        message: `This union has ${plural(members, 'member')}`,
        suggestion: 'Reassign the members to another union or delete them first',
      },
      loans && {
        type: 'loans',
        count: loans,
        message: `This union has ${plural(loans, 'active loan')}`,
        suggestion: 'Complete the active loans before deleting the union',
      },
    ]);
  }

  private async memberFindings(tx: EntityManager, id: string): Promise<Finding[]> {
    if (!(await tx.getRepository(UnionMember).existsBy({ id, deletedAt: IsNull() }))) {
      throw new NotFoundError('Union member', id);
    }
    const loans = await tx.getRepository(Loan).countBy({ unionMemberId: id, ...activeLoan() });
    return compact([
      loans && {
        type: 'loans',
        count: loans,
        message: `This member has ${plural(loans, 'active loan')}`,
        suggestion: 'Complete or write off the active loans before deleting the member',
      },
    ]);
  }

  private async loanTypeFindings(tx: EntityManager, id: string): Promise<Finding[]> {
    if (!(await tx.getRepository(LoanType).existsBy({ id, deletedAt: IsNull() }))) throw new NotFoundError('Loan type', id);
    // Any loan counts, closed ones too: they still name the type (the app's rule).
    const loans = await tx.getRepository(Loan).countBy({ loanTypeId: id, deletedAt: IsNull() });
    return compact([
      loans && {
        type: 'loans',
        count: loans,
        message: `This loan type is used by ${plural(loans, 'loan')}`,
        suggestion: 'Deactivate the loan type instead; its loans keep their current settings',
      },
    ]);
  }
}

function activeLoan() {
  return { deletedAt: IsNull(), status: Not(In(CLOSED_LOAN_STATUSES)) };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function compact(findings: Array<Finding | 0>): Finding[] {
  return findings.filter((f): f is Finding => f !== 0);
}
