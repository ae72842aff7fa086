import { Field, Int, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { DateTimeISOResolver } from 'graphql-scalars';
import { BackupLocation } from '../backup/backup.enums';
import { BackupFrequency } from './schedule.enums';

/**
 * The backup schedule: one row ("default") of the lending app's
 * `backup_schedule_settings`, shared by every instance.
 */
@ObjectType('BackupSchedule')
@Entity({ name: 'backup_schedule_settings' })
export class BackupSchedule {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Field(() => BackupFrequency)
  @Column({ type: 'text', default: BackupFrequency.DISABLED })
  frequency: BackupFrequency;

  @Field(() => String, { nullable: true, description: 'The effective cron expression (5 or 6 fields); for CUSTOM, the one given.' })
  @Column({ type: 'text', nullable: true })
  cron: string | null;

  @Field({ description: 'IANA zone the schedule runs in.' })
  @Column({ type: 'text', nullable: true })
  timezone: string;

  @Field(() => BackupLocation)
  @Column({ type: 'text', default: BackupLocation.LOCAL })
  location: BackupLocation;

  @Field(() => Int, { description: 'Retention deletes backups older than this many days (safety backups: at least 7).' })
  @Column({ type: 'integer', default: 30 })
  retentionDays: number;

  @Field(() => Int, { description: 'Retention never deletes the newest this many COMPLETED backups, whatever their age.' })
  @Column({ type: 'integer', default: 3 })
  keepAtLeast: number;

  @Field()
  @Column({ type: 'boolean', default: false })
  includeAuditLogs: boolean;

  @Field()
  @Column({ type: 'boolean', default: false })
  includeSessions: boolean;

  @Field(() => DateTimeISOResolver, { nullable: true })
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  lastBackupAt: Date | null;

  /** Computed from cron and timezone when read; not stored. */
  @Field(() => DateTimeISOResolver, { nullable: true })
  nextBackupAt: Date | null;

  @Field(() => DateTimeISOResolver)
  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  updatedAt: Date;
}
