import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { APP_SCHEMA } from '../../db/schemas';

/**
 * The lending app's `backup_records` row, exactly as its Prisma schema makes
 * the table (the app deploys with `prisma db push`: any other column is drift).
 * Values follow the app's conventions: lowercase status/type/location,
 * `fileSize` INT4. Read and written only by BackupRecordStore.
 */
@Entity({ schema: APP_SCHEMA, name: 'backup_records' })
@Index('backup_records_createdAt_idx', ['createdAt'])
@Index('backup_records_status_idx', ['status'])
@Index('backup_records_type_idx', ['type'])
export class BackupRecordRow {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ type: 'text' })
  filename: string;

  @Column({ type: 'integer' })
  fileSize: number;

  @Column({ type: 'text' })
  location: string;

  @Column({ type: 'text', nullable: true })
  cloudinaryUrl: string | null;

  @Column({ type: 'text', nullable: true })
  localPath: string | null;

  @Column({ type: 'text' })
  type: string;

  @Column({ type: 'text' })
  status: string;

  @Column({ type: 'jsonb', nullable: true })
  recordCounts: Record<string, number> | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'timestamp', precision: 3, default: () => 'CURRENT_TIMESTAMP' })
  createdAt: Date;

  @Column({ type: 'text', nullable: true })
  createdBy: string | null;
}
