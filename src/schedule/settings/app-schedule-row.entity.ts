import { Column, Entity, PrimaryColumn } from 'typeorm';
import { APP_SCHEMA } from '../../db/schemas';

/**
 * The lending app's `backup_schedule_settings` row (id `default`), exactly as
 * its Prisma schema makes the table. The app's frequency and location values
 * are lowercase. Read and written only by ScheduleSettingsStore.
 */
@Entity({ schema: APP_SCHEMA, name: 'backup_schedule_settings' })
export class AppScheduleRow {
  @PrimaryColumn({ type: 'text', default: 'default' })
  id: string;

  @Column({ type: 'text', default: 'disabled' })
  frequency: string;

  @Column({ type: 'text', default: 'cloud' })
  location: string;

  @Column({ type: 'integer', default: 30 })
  retentionDays: number;

  @Column({ type: 'boolean', default: false })
  includeAuditLogs: boolean;

  @Column({ type: 'boolean', default: false })
  includeSessions: boolean;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  lastBackupAt: Date | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  nextBackupAt: Date | null;

  /** Prisma's @updatedAt: set by whoever writes the row. */
  @Column({ type: 'timestamp', precision: 3 })
  updatedAt: Date;
}
