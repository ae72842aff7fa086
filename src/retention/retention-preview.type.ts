import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeISOResolver, SafeIntResolver } from 'graphql-scalars';
import { BackupRecord } from '../backup/records/backup-record';
import type { StoredSegment } from '../journal/journal-store';

/** What a retention run started now would delete. */
@ObjectType('RetentionPreview', { description: 'What a retention run started now would delete (the selection the RETENTION job uses).' })
export class RetentionPreview {
  @Field(() => DateTimeISOResolver, {
    description: `Backups created before this go, but for the newest keepAtLeast completed ones; PRE_RESTORE and PRE_RESET backups stay 7 days at least.`,
  })
  cutoff: Date;

  @Field(() => Int)
  retentionDays: number;

  @Field(() => Int)
  keepAtLeast: number;

  @Field(() => [BackupRecord], { description: 'Oldest first.' })
  backups: BackupRecord[];

  @Field(() => SafeIntResolver, { description: 'Bytes of their files.' })
  totalBytes: number;

  @Field(() => Int, { description: 'Change journal segments no remaining backup needs (older than the oldest backup a restore to an instant could start from), deleted with them.' })
  journalSegments: number;

  @Field(() => SafeIntResolver, { description: 'Bytes of those segments.' })
  journalBytes: number;

  /** The segments themselves (for the run). */
  segments: StoredSegment[];
}
