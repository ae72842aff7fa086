import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from '../../db/transformers';

/**
 * What Kiln knows about a `backup_records` row beyond the app's columns, keyed
 * by the app's row id (no foreign key: the app may delete its rows, and Kiln
 * never adds constraints to the app's tables). `origin` APP marks a row the app
 * wrote that Kiln has only verified.
 */
@Entity({ name: 'kiln_backup_details' })
@Index('kiln_backup_details_jobId_idx', ['jobId'])
export class BackupDetails {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ type: 'text', default: 'KILN' })
  origin: string;

  /** Kiln's type (PRE_RESTORE and PRE_RESET appear to the app as `manual`). */
  @Column({ type: 'text', nullable: true })
  kind: string | null;

  /** The exact size (the app's INT4 column is capped at 2^31 - 1). */
  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  fileSize: number | null;

  @Column({ type: 'boolean', default: false })
  compressed: boolean;

  @Column({ type: 'boolean', default: false })
  encrypted: boolean;

  /** sha256 of the backed-up data, also written inside the file. */
  @Column({ type: 'text', nullable: true })
  checksum: string | null;

  /** sha256 of the stored file's bytes: what `sha256sum` of a download prints. */
  @Column({ type: 'text', nullable: true })
  fileChecksum: string | null;

  /** The snapshot its rows were read in (pg_current_snapshot()): which transactions the backup holds. */
  @Column({ type: 'text', nullable: true })
  snapshot: string | null;

  /** The server's clock just after that snapshot was taken: every transaction it holds committed before. */
  @Column({ type: 'timestamptz', nullable: true })
  snapshotAt: Date | null;

  @Column({ type: 'boolean', default: false })
  includeAuditLogs: boolean;

  @Column({ type: 'boolean', default: false })
  includeSessions: boolean;

  @Column({ type: 'boolean', default: false })
  storedLocally: boolean;

  @Column({ type: 'boolean', default: false })
  storedInCloud: boolean;

  @Column({ type: 'text', nullable: true })
  cloudError: string | null;

  @Column({ type: 'text', nullable: true })
  cloudPublicId: string | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  cloudVersion: number | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintAsNumber })
  cloudBytes: number | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  completedAt: Date | null;

  @Column({ type: 'timestamp', precision: 3, nullable: true })
  lastVerifiedAt: Date | null;

  @Column({ type: 'text', nullable: true })
  schemaVersion: string | null;

  @Column({ type: 'integer', nullable: true })
  formatVersion: number | null;

  @Column({ type: 'text', nullable: true })
  jobId: string | null;
}
