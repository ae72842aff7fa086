import { Field, ID, ObjectType } from 'type-graphql';
import { JSONObjectResolver, SafeIntResolver } from 'graphql-scalars';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../db/transformers';
import { BackupLocation, BackupStatus, BackupType } from './backup.enums';

/** One backup file and where it is stored; the row is the truth about the file. */
@ObjectType('Backup')
@Entity({ name: 'backup_records' })
@Index('backup_records_createdAt_idx', ['createdAt'])
@Index('backup_records_status_idx', ['status'])
export class BackupRecord {
  @Field(() => ID)
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Field()
  @Column({ type: 'text', default: '' })
  filename: string;

  @Field(() => BackupType)
  @Column({ type: 'text', default: 'MANUAL' })
  type: BackupType;

  @Field(() => BackupStatus)
  @Column({ type: 'text', default: 'IN_PROGRESS' })
  status: BackupStatus;

  @Field(() => BackupLocation)
  @Column({ type: 'text', default: 'LOCAL' })
  location: BackupLocation;

  @Field(() => SafeIntResolver, { description: 'Bytes of the stored file (after compression and encryption).' })
  @Column({ type: 'bigint', default: 0, transformer: bigintAsNumber })
  fileSize: number;

  @Field()
  @Column({ type: 'boolean', default: false })
  compressed: boolean;

  @Field()
  @Column({ type: 'boolean', default: false })
  encrypted: boolean;

  @Field(() => String, { nullable: true, description: 'sha256 of the backed-up data, also written inside the file.' })
  @Column({ type: 'text', nullable: true })
  checksum: string | null;

  @Field(() => JSONObjectResolver, { nullable: true, description: 'Rows per table.' })
  @Column({ type: 'jsonb', nullable: true })
  recordCounts: Record<string, number> | null;

  @Field()
  @Column({ type: 'boolean', default: false })
  includeAuditLogs: boolean;

  @Field()
  @Column({ type: 'boolean', default: false })
  includeSessions: boolean;

  @Field()
  @Column({ type: 'boolean', default: false })
  storedLocally: boolean;

  @Field()
  @Column({ type: 'boolean', default: false })
  storedInCloud: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'Why the cloud copy is missing when location is BOTH and only the local copy was written.',
  })
  @Column({ type: 'text', nullable: true })
  cloudError: string | null;

  @Field(() => String, { nullable: true, description: 'Why the backup failed.' })
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'text', nullable: true })
  createdById: string | null;

  @Field()
  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  completedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: 'timestamp', precision: 3, nullable: true })
  lastVerifiedAt: Date | null;

  /** The newest migration when the backup was taken. */
  @Column({ type: 'text', nullable: true })
  schemaVersion: string | null;

  @Column({ type: 'integer', nullable: true })
  formatVersion: number | null;

  /** Storage key of the local copy (relative to BACKUP_DIR). */
  @Column({ type: 'text', nullable: true })
  localPath: string | null;

  /** Cloudinary public_id of the cloud copy (raw, authenticated). */
  @Column({ type: 'text', nullable: true })
  cloudPublicId: string | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  cloudVersion: number | null;

  /** Bytes Cloudinary confirmed it holds. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  cloudBytes: number | null;

  /** The BACKUP job that wrote it. */
  @Column({ type: 'text', nullable: true })
  jobId: string | null;
}
