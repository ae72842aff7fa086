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
import { ScheduleStatus } from './lending-enums';
import { Loan } from './loan.entity';

/** One instalment of a loan's repayment schedule (what is due, when, and how much is paid). */
@Entity({ schema: APP_SCHEMA, name: 'RepaymentScheduleItem' })
@Index('RepaymentScheduleItem_loanId_sequence_key', ['loanId', 'sequence'], { unique: true })
@Index('RepaymentScheduleItem_loanId_dueDate_idx', ['loanId', 'dueDate'])
export class RepaymentScheduleItem extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'RepaymentScheduleItem_pkey' })
  id!: string;

  @Column({ type: 'text' })
  loanId!: string;

  @ManyToOne(() => Loan, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'loanId', foreignKeyConstraintName: 'RepaymentScheduleItem_loanId_fkey' })
  loan!: Relation<Loan>;

  @Column({ type: 'integer' })
  sequence!: number;

  @Column({ type: 'timestamp', precision: 3 })
  dueDate!: Date;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  principalDue!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2, default: 0 })
  interestDue!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2, default: 0 })
  feeDue!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  totalDue!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2, default: 0 })
  paidAmount!: string;

  @Column({ type: 'enum', enum: ScheduleStatus, enumName: 'ScheduleStatus', default: ScheduleStatus.PENDING })
  status!: ScheduleStatus;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  closedAt!: Date | null;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
