import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { BackupLocation } from '../backup/backup.enums';
import { BackupFrequency, DrillFrequency } from './schedule.enums';

/** A partial update: fields left out keep their value. */
@InputType('BackupScheduleInput')
export class BackupScheduleInput {
  @Field(() => BackupFrequency, { nullable: true })
  frequency?: BackupFrequency | null;

  @Field(() => String, { nullable: true })
  cron?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;

  @Field(() => BackupLocation, { nullable: true })
  location?: BackupLocation | null;

  @Field(() => Int, { nullable: true })
  retentionDays?: number | null;

  @Field(() => Int, { nullable: true })
  keepAtLeast?: number | null;

  @Field(() => DrillFrequency, { nullable: true })
  drillFrequency?: DrillFrequency | null;

  @Field(() => String, { nullable: true, description: 'Only with drillFrequency CUSTOM.' })
  drillCron?: string | null;

  @Field(() => Boolean, { nullable: true })
  includeAuditLogs?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  includeSessions?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Turns the change journal on (refused, naming what the server lacks, where it cannot run) or off (its replication slot and publication are dropped).' })
  continuous?: boolean | null;
}

/** One upcoming fire, in UTC and as the wall time of the schedule's zone. */
@ObjectType('ScheduledRun')
export class ScheduledRun {
  @Field(() => DateTimeISOResolver)
  at: Date;

  @Field({ description: "ISO local time with the UTC offset in the schedule's zone, e.g. 2026-03-29T02:00:00+01:00." })
  local: string;
}
