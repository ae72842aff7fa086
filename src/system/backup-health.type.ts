import { Field, Int, ObjectType } from 'type-graphql';
import { SafeIntResolver } from 'graphql-scalars';

@ObjectType('BackupHealth')
export class BackupHealth {
  @Field()
  healthy: boolean;

  @Field(() => [String])
  problems: string[];

  @Field(() => [String], { description: 'A stable code per problem, in the same order (NO_BACKUP_YET, BACKUP_OVERDUE, DRILL_FAILED, BACKUP_SUSPICIOUS, …): for monitors and metrics.' })
  problemCodes: string[];

  @Field(() => [String], { description: 'What is fine but worth knowing, e.g. that backups stay on this machine by choice.' })
  notes: string[];

  @Field(() => Date, { nullable: true })
  lastSuccessfulBackupAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastFailedBackupAt: Date | null;

  @Field(() => Int)
  failedLast24h: number;

  @Field(() => Date, { nullable: true })
  nextScheduledAt: Date | null;

  @Field(() => Int)
  totalBackups: number;

  @Field(() => SafeIntResolver)
  totalBytes: number;

  @Field(() => SafeIntResolver, { description: 'Of totalBytes: the completed backups with a copy on the gateway’s disk.' })
  localBytes: number;

  @Field(() => SafeIntResolver, { description: 'Of totalBytes: the completed backups with a copy in the cloud.' })
  cloudBytes: number;
}
