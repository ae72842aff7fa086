import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { BackupLocation } from '../../backup/backup.enums';
import { BackupFrequency, DrillFrequency } from '../schedule.enums';

/**
 * The backup schedule: the app's `backup_schedule_settings` row (id `default`)
 * with Kiln's additions. Made and saved only by ScheduleSettingsStore.
 */
@ObjectType('BackupSchedule')
export class BackupSchedule {
  id: string;

  @Field(() => BackupFrequency)
  frequency: BackupFrequency;

  @Field(() => String, { nullable: true, description: 'The effective cron expression (5 or 6 fields); for CUSTOM, the one given.' })
  cron: string | null;

  @Field({ description: 'IANA zone the schedule runs in.' })
  timezone: string;

  @Field(() => BackupLocation)
  location: BackupLocation;

  @Field(() => Int, { description: 'Retention deletes backups older than this many days (safety backups: at least 7).' })
  retentionDays: number;

  @Field(() => Int, { description: 'Retention never deletes the newest this many COMPLETED backups, whatever their age.' })
  keepAtLeast: number;

  @Field(() => DrillFrequency, { description: 'How often a DRILL job restores the newest completed backup into a scratch schema and compares it (quarterly by default).' })
  drillFrequency: DrillFrequency;

  @Field(() => String, { nullable: true, description: 'The drills’ effective cron, in the schedule’s zone; for CUSTOM, the one given.' })
  drillCron: string | null;

  @Field(() => DateTimeISOResolver, { nullable: true, description: 'The next scheduled drill; null while drills are disabled.' })
  nextDrillAt: Date | null;

  /** When the drill settings took effect; null until Kiln saved any. Health expects drills from then on. */
  drillSince: Date | null;

  @Field()
  includeAuditLogs: boolean;

  @Field()
  includeSessions: boolean;

  @Field({ description: 'The change journal runs: every committed change of the lending tables is kept, so restoreToPointInTime can restore any moment since (PostgreSQL with wal_level = logical).' })
  continuous: boolean;

  @Field(() => DateTimeISOResolver, { nullable: true })
  lastBackupAt: Date | null;

  /** Computed from cron and timezone when read (and written to the app's row for its own screen). */
  @Field(() => DateTimeISOResolver, { nullable: true })
  nextBackupAt: Date | null;

  @Field(() => DateTimeISOResolver)
  updatedAt: Date;

  @Field(() => [String], { description: 'What Kiln could not make sense of in the stored settings (e.g. a frequency neither side knows): nothing runs then.' })
  warnings: string[];
}
