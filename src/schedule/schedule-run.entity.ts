import { Column, Entity, PrimaryColumn } from 'typeorm';

/** What a claimed instant is for: a scheduled backup, the daily retention run, or a restore drill. */
export type ScheduleRunKind = 'BACKUP' | 'RETENTION' | 'DRILL';

/**
 * One scheduled fire, claimed by the instance whose INSERT won: the primary
 * key on (kind, scheduled time) is what makes a fire run exactly once.
 */
@Entity({ name: 'kiln_schedule_runs' })
export class ScheduleRun {
  @PrimaryColumn({ type: 'text', default: 'BACKUP' })
  kind: ScheduleRunKind;

  @PrimaryColumn({ type: 'timestamp', precision: 3 })
  scheduledFor: Date;

  @Column({ type: 'text' })
  claimedBy: string;

  /** Renewed while the claim waits for a busy lease; a stale one is taken over. */
  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  claimedAt: Date;

  @Column({ type: 'text', nullable: true })
  jobId: string | null;

  @Column({ type: 'text', nullable: true })
  backupId: string | null;

  /** 2 once another instance re-ran a fire whose backup was interrupted. */
  @Column({ type: 'integer', default: 1 })
  attempts: number;
}
