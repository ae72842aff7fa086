import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One scheduled fire, claimed by the instance whose INSERT won: the primary
 * key on the scheduled time is what makes a fire run exactly once.
 */
@Entity({ name: 'kiln_schedule_runs' })
export class ScheduleRun {
  @PrimaryColumn({ type: 'timestamp', precision: 3 })
  scheduledFor: Date;

  @Column({ type: 'text' })
  claimedBy: string;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  claimedAt: Date;

  @Column({ type: 'text', nullable: true })
  jobId: string | null;

  @Column({ type: 'text', nullable: true })
  backupId: string | null;
}
