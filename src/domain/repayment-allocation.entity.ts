import { APP_SCHEMA } from '../db/schemas';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { Repayment } from './repayment.entity';
import { RepaymentScheduleItem } from './repayment-schedule-item.entity';

/** The part of a repayment applied to one schedule instalment. */
@Entity({ schema: APP_SCHEMA, name: 'RepaymentAllocation' })
@Index('RepaymentAllocation_repaymentId_scheduleItemId_key', ['repaymentId', 'scheduleItemId'], { unique: true })
@Index('RepaymentAllocation_scheduleItemId_idx', ['scheduleItemId'])
export class RepaymentAllocation {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'RepaymentAllocation_pkey' })
  id!: string;

  @Column({ type: 'text' })
  repaymentId!: string;

  @ManyToOne(() => Repayment, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'repaymentId', foreignKeyConstraintName: 'RepaymentAllocation_repaymentId_fkey' })
  repayment!: Relation<Repayment>;

  @Column({ type: 'text' })
  scheduleItemId!: string;

  @ManyToOne(() => RepaymentScheduleItem, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'scheduleItemId', foreignKeyConstraintName: 'RepaymentAllocation_scheduleItemId_fkey' })
  scheduleItem!: Relation<RepaymentScheduleItem>;

  @Column({ type: 'numeric', precision: 14, scale: 2 })
  amount!: string;

  @CreateDateColumn({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt!: Date;
}
