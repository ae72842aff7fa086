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
import { RepaymentMethod } from './lending-enums';
import { Loan } from './loan.entity';
import { User } from './user.entity';

/** A payment received against a loan by a staff member. */
@Entity({ schema: APP_SCHEMA, name: 'Repayment' })
@Index('Repayment_loanId_paidAt_idx', ['loanId', 'paidAt'])
@Index('Repayment_receivedByUserId_idx', ['receivedByUserId'])
export class Repayment extends TimestampedEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'Repayment_pkey' })
  id!: string;

  @Column({ type: 'text' })
  loanId!: string;

  @ManyToOne(() => Loan, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'loanId', foreignKeyConstraintName: 'Repayment_loanId_fkey' })
  loan!: Relation<Loan>;

  @Column({ type: 'text' })
  receivedByUserId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'receivedByUserId', foreignKeyConstraintName: 'Repayment_receivedByUserId_fkey' })
  receivedBy!: Relation<User>;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  amount!: string;

  @Column({ type: 'text', default: 'NGN' })
  currencyCode!: string;

  @Column({ type: 'timestamp', precision: 3 })
  paidAt!: Date;

  @Column({ type: 'enum', enum: RepaymentMethod, enumName: 'RepaymentMethod' })
  method!: RepaymentMethod;

  @Column({ type: 'text', nullable: true })
  reference!: string | null;

  @Column({ type: 'text', nullable: true })
  notes!: string | null;

  /** Soft-delete marker (plain column: TypeORM must not hide these rows). */
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
