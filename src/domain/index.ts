/**
 * The protected "lending" schema: TypeORM mirrors of the Millennium Potters
 * Prisma models. Table, column, index and constraint names match what Prisma
 * created in production, so Kiln can be pointed at that database as-is.
 */
import { AuditLog } from './audit-log.entity';
import { CompanySetting } from './company-setting.entity';
import { DocumentType } from './document-type.entity';
import { LoanDocument } from './loan-document.entity';
import { LoanType } from './loan-type.entity';
import { Loan } from './loan.entity';
import { RepaymentAllocation } from './repayment-allocation.entity';
import { RepaymentScheduleItem } from './repayment-schedule-item.entity';
import { Repayment } from './repayment.entity';
import { ReportSession } from './report-session.entity';
import { StaffSession } from './staff-session.entity';
import { UnionAssignmentHistory } from './union-assignment-history.entity';
import { UnionMemberDocument } from './union-member-document.entity';
import { UnionMemberReassignment } from './union-member-reassignment.entity';
import { UnionMember } from './union-member.entity';
import { Union } from './union.entity';
import { UserLoginHistory } from './user-login-history.entity';
import { UserNote } from './user-note.entity';
import { User } from './user.entity';

export * from './lending-enums';
export type { JsonValue } from './audit-log.entity';
export {
  AuditLog,
  CompanySetting,
  DocumentType,
  Loan,
  LoanDocument,
  LoanType,
  Repayment,
  RepaymentAllocation,
  RepaymentScheduleItem,
  ReportSession,
  StaffSession,
  Union,
  UnionAssignmentHistory,
  UnionMember,
  UnionMemberDocument,
  UnionMemberReassignment,
  User,
  UserLoginHistory,
  UserNote,
};

/** Every lending entity, in the same foreign-key dependency order as {@link LENDING_TABLES}. */
export const lendingEntities = [
  User,
  CompanySetting,
  DocumentType,
  LoanType,
  Union,
  UnionMember,
  Loan,
  RepaymentScheduleItem,
  Repayment,
  RepaymentAllocation,
  UnionAssignmentHistory,
  UnionMemberReassignment,
  UnionMemberDocument,
  LoanDocument,
  StaffSession,
  AuditLog,
  UserLoginHistory,
  UserNote,
  ReportSession,
] as const;

/**
 * Lending table names in foreign-key dependency order: every table comes after
 * all tables it references, so restoring in this order (and deleting in reverse)
 * never violates a foreign key.
 *
 * Caveat: "User" references itself ("User"."supervisorId" -> "User"."id"), so
 * within "User" a supervisor row must be written before the officers pointing
 * at it (or insert with supervisorId NULL and set it in a second pass).
 * "UnionAssignmentHistory"."unionId" has no foreign key (by design in Prisma).
 */
export const LENDING_TABLES = [
  'User',
  'CompanySetting',
  'DocumentType',
  'LoanType',
  'Union',
  'UnionMember',
  'Loan',
  'RepaymentScheduleItem',
  'Repayment',
  'RepaymentAllocation',
  'UnionAssignmentHistory',
  'UnionMemberReassignment',
  'UnionMemberDocument',
  'LoanDocument',
  'StaffSession',
  'AuditLog',
  'UserLoginHistory',
  'UserNote',
  'ReportSession',
] as const;

export type LendingTable = (typeof LENDING_TABLES)[number];

/**
 * Tables a backup may skip (high-volume, non-financial: sessions and the audit
 * trail). Nothing references them, so leaving them out never breaks a restore.
 * Every other table, including "UserLoginHistory", is always backed up.
 */
export const OPTIONAL_BACKUP_TABLES: readonly LendingTable[] = ['AuditLog', 'StaffSession'];

/** True when `table` may be left out of a backup. */
export function isOptionalBackupTable(table: LendingTable): boolean {
  return OPTIONAL_BACKUP_TABLES.includes(table);
}
