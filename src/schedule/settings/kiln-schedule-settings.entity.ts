import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Kiln's additions to the app's schedule row (same id): the cron of CUSTOM, the zone, keepAtLeast, the restore drills. */
@Entity({ name: 'kiln_schedule_settings' })
export class KilnScheduleSettings {
  @PrimaryColumn({ type: 'text' })
  id: string;

  /** Only for CUSTOM; the fixed frequencies have their own cron. */
  @Column({ type: 'text', nullable: true })
  cron: string | null;

  @Column({ type: 'text', nullable: true })
  timezone: string | null;

  @Column({ type: 'integer', default: 3 })
  keepAtLeast: number;

  /** A DrillFrequency. */
  @Column({ type: 'text', default: 'QUARTERLY' })
  drillFrequency: string;

  /** Only for drillFrequency CUSTOM. */
  @Column({ type: 'text', nullable: true })
  drillCron: string | null;

  /** When the drill settings last changed (or Kiln was upgraded to drills). */
  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  drillSince: Date;

  /** The change journal (point-in-time recovery) runs while this is on. */
  @Column({ type: 'boolean', default: false })
  continuous: boolean;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  updatedAt: Date;
}
