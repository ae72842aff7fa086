import { Field, Float, ID, ObjectType, registerEnumType } from 'type-graphql';
import { SafeIntResolver } from 'graphql-scalars';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../db/transformers';
import { JobKind, JobStatus } from './job.enums';
import { VerificationReport } from './verification-report.type';

// Here, not in job.enums.ts: the CLI reads those enums without loading the GraphQL layer.
registerEnumType(JobKind, { name: 'JobKind' });
registerEnumType(JobStatus, { name: 'JobStatus' });

/** A long-running operation. The row is the truth; subscription events are a courtesy. */
@ObjectType('Job', { description: 'A long-running operation. The jobProgress subscription yields this same type as it changes.' })
@Entity({ name: 'kiln_jobs' })
@Index('kiln_jobs_status_idx', ['status', 'createdAt'])
export class Job {
  @Field(() => ID)
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Field(() => JobKind)
  @Column({ type: 'text' })
  kind: JobKind;

  @Field(() => JobStatus)
  @Column({ type: 'text', default: 'QUEUED' })
  status: JobStatus;

  @Field(() => String, { nullable: true, description: 'e.g. snapshot, export, compress, upload, validate, restore, drill' })
  @Column({ type: 'text', nullable: true })
  phase: string | null;

  @Field(() => String, { nullable: true, description: 'The table being read or written now.' })
  @Column({ type: 'text', nullable: true })
  table: string | null;

  @Field(() => Float, { description: '0 to 100, never decreasing within a job.' })
  @Column({ type: 'double precision', default: 0 })
  percent: number;

  @Field(() => SafeIntResolver)
  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  rowsDone: number;

  @Field(() => SafeIntResolver, { nullable: true })
  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  rowsTotal: number | null;

  @Field(() => SafeIntResolver)
  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  bytesDone: number;

  @Field(() => Float, { nullable: true })
  @Column({ type: 'double precision', nullable: true })
  etaSeconds: number | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'text', nullable: true })
  message: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The extensions.code of the failure (e.g. BACKUP_CORRUPT), when it has one; INTERRUPTED when its gateway stopped, crashed or lost the job lease.',
  })
  @Column({ type: 'text', nullable: true })
  errorCode: string | null;

  @Column({ type: 'text', nullable: true })
  backupId: string | null;

  @Field(() => VerificationReport, { nullable: true })
  @Column({ type: 'jsonb', nullable: true })
  verification: VerificationReport | null;

  /** What was asked for (options of the operation), ids only. */
  @Column({ type: 'jsonb', nullable: true })
  input: Record<string, string | number | boolean | null> | null;

  @Column({ type: 'text', nullable: true })
  requestedById: string | null;

  /** The gateway instance running it. */
  @Column({ type: 'text', nullable: true })
  instanceId: string | null;

  @Column({ type: 'boolean', default: false })
  cancelRequested: boolean;

  @Field()
  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  finishedAt: Date | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  heartbeatAt: Date | null;
}
