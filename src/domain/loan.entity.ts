import { APP_SCHEMA } from '../db/schemas';
import {
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import type { Relation } from 'typeorm';
import { TimestampedEntity } from './timestamped.entity';
import { LoanStatus, TermUnit } from './lending-enums';
import { LoanType } from './loan-type.entity';
import { Union } from './union.entity';
import { UnionMember } from './union-member.entity';
import { User } from './user.entity';

/** A loan issued to a union member, with its fees, term and status. */
@Entity({ schema: APP_SCHEMA, name: 'Loan' })
@Index('Loan_loanNumber_key', ['loanNumber'], { unique: true })
@Index('Loan_createdByUserId_idx', ['createdByUserId'])
@Index('Loan_assignedOfficerId_idx', ['assignedOfficerId'])
@Index('Loan_unionMemberId_idx', ['unionMemberId'])
@Index('Loan_unionId_idx', ['unionId'])
@Index('Loan_status_idx', ['status'])
@Index('Loan_loanNumber_idx', ['loanNumber'])
@Index('Loan_loanTypeId_idx', ['loanTypeId'])
@Index('Loan_endDate_idx', ['endDate'])
@Index('Loan_deletedAt_idx', ['deletedAt'])
export class Loan extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'Loan_pkey' })
  id!: string;

  @Column({ type: 'text' })
  loanNumber!: string;

  @Column({ type: 'text' })
  unionMemberId!: string;

  @ManyToOne(() => UnionMember, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'unionMemberId', foreignKeyConstraintName: 'Loan_unionMemberId_fkey' })
  unionMember!: Relation<UnionMember>;

  @Column({ type: 'text' })
  unionId!: string;

  @ManyToOne(() => Union, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'unionId', foreignKeyConstraintName: 'Loan_unionId_fkey' })
  union!: Relation<Union>;

  @Column({ type: 'text', nullable: true })
  loanTypeId!: string | null;

  @ManyToOne(() => LoanType, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'loanTypeId', foreignKeyConstraintName: 'Loan_loanTypeId_fkey' })
  loanType!: Relation<LoanType> | null;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  principalAmount!: string;

  @Column({ type: 'text', default: 'NGN' })
  currencyCode!: string;

  @Column({ type: 'integer' })
  termCount!: number;

  @Column({ type: 'enum', enum: TermUnit, enumName: 'TermUnit' })
  termUnit!: TermUnit;

  @Column({ type: 'timestamp', precision: 3 })
  startDate!: Date;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  endDate!: Date | null;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  processingFeeAmount!: string;

  @Column({ type: 'boolean', default: false })
  processingFeeCollected!: boolean;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  penaltyFeePerDayAmount!: string;

  @Column({ type: 'enum', enum: LoanStatus, enumName: 'LoanStatus', default: LoanStatus.DRAFT })
  status!: LoanStatus;

  @Column({ type: 'text' })
  createdByUserId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'createdByUserId', foreignKeyConstraintName: 'Loan_createdByUserId_fkey' })
  createdByUser!: Relation<User>;

  @Column({ type: 'text', nullable: true })
  assignedOfficerId!: string | null;

  @ManyToOne(() => User, { nullable: true, onDelete: 'SET NULL', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'assignedOfficerId', foreignKeyConstraintName: 'Loan_assignedOfficerId_fkey' })
  assignedOfficer!: Relation<User> | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  disbursedAt!: Date | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  closedAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  notes!: string | null;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
