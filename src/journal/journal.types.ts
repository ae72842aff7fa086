import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { BackupRecord } from '../backup/records/backup-record';

@ObjectType('RestorableSpan', { description: 'A span of time every instant of which restoreToPointInTime can restore.' })
export class RestorableSpanType {
  @Field(() => DateTimeISOResolver)
  from: Date;

  @Field(() => DateTimeISOResolver)
  to: Date;
}

@ObjectType('RecoveryGap', { description: 'Time between two restorable spans that cannot be restored, and why.' })
export class RecoveryGap {
  @Field(() => DateTimeISOResolver)
  from: Date;

  @Field(() => DateTimeISOResolver)
  to: Date;

  @Field()
  reason: string;
}

@ObjectType('RecoveryWindow')
export class RecoveryWindow {
  @Field({ description: 'The change journal runs (the schedule’s continuous).' })
  continuous: boolean;

  @Field(() => DateTimeISOResolver, { nullable: true, description: 'The earliest instant restoreToPointInTime can restore; null when none.' })
  earliest: Date | null;

  @Field(() => DateTimeISOResolver, { nullable: true, description: 'The latest: every commit up to it is stored.' })
  latest: Date | null;

  @Field(() => Float, { nullable: true, description: 'Seconds between now and latest while the journal runs.' })
  lagSeconds: number | null;

  @Field(() => Float, { nullable: true, description: 'WAL the server keeps for the journal’s replication slot, in bytes.' })
  retainedWalBytes: number | null;

  @Field(() => [RestorableSpanType], { description: 'Oldest first.' })
  spans: RestorableSpanType[];

  @Field(() => [RecoveryGap], { description: 'Between the spans, oldest first: a journal turned off, or its slot lost.' })
  gaps: RecoveryGap[];
}

@ObjectType('TableChanges')
export class TableChanges {
  @Field()
  table: string;

  @Field(() => Int)
  changes: number;
}

@ObjectType('PointInTimePreview', { description: 'What restoreToPointInTime(at) would do; nothing is changed.' })
export class PointInTimePreview {
  @Field(() => DateTimeISOResolver)
  at: Date;

  @Field(() => BackupRecord, { description: 'The base backup it loads.' })
  base: BackupRecord;

  @Field(() => Int, { description: 'Journal segments it reads.' })
  segments: number;

  @Field(() => Int, { description: 'Journal transactions it replays on top of the base.' })
  transactions: number;

  @Field(() => [TableChanges], { description: 'Changes (inserts, updates, deletes, truncates) it replays, per table.' })
  tables: TableChanges[];
}
