import { APP_SCHEMA } from '../db/schemas';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import type { JsonValue } from './audit-log.entity';
import { ReportType } from './lending-enums';
import { User } from './user.entity';

/** A supervisor report generated for a period, with cached portfolio metrics. */
@Entity({ schema: APP_SCHEMA, name: 'ReportSession' })
@Index('ReportSession_supervisorId_idx', ['supervisorId'])
@Index('ReportSession_generatedAt_idx', ['generatedAt'])
@Index('ReportSession_reportType_idx', ['reportType'])
@Index('ReportSession_periodStart_periodEnd_idx', ['periodStart', 'periodEnd'])
export class ReportSession {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'ReportSession_pkey' })
  id!: string;

  @Column({ type: 'text' })
  supervisorId!: string;

  @ManyToOne(() => User, { nullable: false, onDelete: 'RESTRICT', onUpdate: 'CASCADE' })
  @JoinColumn({ name: 'supervisorId', foreignKeyConstraintName: 'ReportSession_supervisorId_fkey' })
  supervisor!: Relation<User>;

  @Column({ type: 'enum', enum: ReportType, enumName: 'ReportType', default: ReportType.CUSTOM })
  reportType!: ReportType;

  @Column({ type: 'text', nullable: true })
  title!: string | null;

  @Column({ type: 'timestamp', precision: 3 })
  periodStart!: Date;

  @Column({ type: 'timestamp', precision: 3 })
  periodEnd!: Date;

  @Column({ type: 'integer', default: 0 })
  totalOfficers!: number;

  @Column({ type: 'integer', default: 0 })
  totalUnions!: number;

  @Column({ type: 'integer', default: 0 })
  totalMembers!: number;

  @Column({ type: 'integer', default: 0 })
  totalLoans!: number;

  @Column({ type: 'integer', default: 0 })
  activeLoans!: number;

  @Column({ type: 'integer', default: 0 })
  completedLoans!: number;

  @Column({ type: 'integer', default: 0 })
  defaultedLoans!: number;

  @Column({ type: 'numeric', precision: 14, scale: 2, default: 0 })
  totalDisbursed!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2, default: 0 })
  totalRepaid!: string;

  @Column({ type: 'numeric', precision: 14, scale: 2, default: 0 })
  totalOutstanding!: string;

  /** Percentage, numeric(5,2). */
  @Column({ type: 'numeric', precision: 5, scale: 2, default: 0 })
  collectionRate!: string;

  /** Full report data snapshot. */
  @Column({ type: 'jsonb', nullable: true })
  reportData!: JsonValue | null;

  /** Officer performance breakdown. */
  @Column({ type: 'jsonb', nullable: true })
  officerMetrics!: JsonValue | null;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  generatedAt!: Date;
}
