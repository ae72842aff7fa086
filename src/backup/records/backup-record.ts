import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { JSONObjectResolver, SafeIntResolver } from 'graphql-scalars';
import { BackupLocation, BackupOrigin, BackupStatus, BackupType } from '../backup.enums';

// Here, not in backup.enums.ts: the CLI and the file readers use those enums without loading the GraphQL layer.
registerEnumType(BackupLocation, { name: 'BackupLocation', valuesConfig: { UNKNOWN: { description: 'A value in backup_records neither the app nor Kiln knows (output only).' } } });
registerEnumType(BackupStatus, { name: 'BackupStatus', valuesConfig: { UNKNOWN: { description: 'A value in backup_records neither the app nor Kiln knows (output only).' } } });
registerEnumType(BackupType, { name: 'BackupType', valuesConfig: { UNKNOWN: { description: 'A value in backup_records neither the app nor Kiln knows (output only).' } } });
registerEnumType(BackupOrigin, { name: 'BackupOrigin' });

/** The values exactly as stored in the app's `backup_records` row. */
@ObjectType('BackupStoredValues')
export class BackupStoredValues {
  @Field()
  status: string;

  @Field()
  type: string;

  @Field()
  location: string;
}

/**
 * One backup: the app's `backup_records` row joined with what Kiln knows about
 * it (kiln_backup_details). Made and saved only by BackupRecordStore.
 */
@ObjectType('Backup')
export class BackupRecord {
  @Field(() => ID)
  id: string;

  @Field()
  filename: string;

  @Field(() => BackupType)
  type: BackupType;

  @Field(() => BackupStatus)
  status: BackupStatus;

  @Field(() => BackupLocation)
  location: BackupLocation;

  @Field(() => BackupOrigin, { description: 'APP: recorded by the lending app’s own backup feature; KILN: written by Kiln.' })
  origin: BackupOrigin;

  @Field(() => BackupStoredValues, { description: 'status, type and location exactly as stored in backup_records (the app’s lowercase values).' })
  appValues: BackupStoredValues;

  @Field(() => [String], { description: 'What Kiln could not make sense of in this row (an unknown value, a file path outside the backup folders).' })
  warnings: string[];

  @Field(() => SafeIntResolver, { description: 'Bytes of the stored file (after compression and encryption).' })
  fileSize: number;

  @Field()
  compressed: boolean;

  @Field()
  encrypted: boolean;

  @Field(() => String, { nullable: true, description: 'sha256 of the backed-up data, also written inside the file.' })
  checksum: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'sha256 of the stored file as downloaded (what `sha256sum` prints, and the download’s ETag); null for the app’s own backups.',
  })
  fileChecksum: string | null;

  /** The snapshot a Kiln backup's rows were read in (see ExportedSnapshot); not in the API. */
  snapshot: string | null;
  snapshotAt: Date | null;

  @Field(() => JSONObjectResolver, { nullable: true, description: 'Rows per table.' })
  recordCounts: Record<string, number> | null;

  @Field()
  includeAuditLogs: boolean;

  @Field()
  includeSessions: boolean;

  @Field()
  storedLocally: boolean;

  @Field()
  storedInCloud: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'Why the cloud copy is missing when location is BOTH and only the local copy was written.',
  })
  cloudError: string | null;

  @Field(() => String, { nullable: true, description: 'Why the backup failed.' })
  error: string | null;

  createdById: string | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  completedAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastVerifiedAt: Date | null;

  /** The newest migration when the backup was taken. */
  schemaVersion: string | null;

  formatVersion: number | null;

  /** The app's `localPath`: a file in BACKUP_DIR or APP_BACKUP_DIR (Kiln writes the absolute path). */
  localPath: string | null;

  /** The app's `cloudinaryUrl`. */
  cloudinaryUrl: string | null;

  /** Cloudinary public_id of the cloud copy. */
  cloudPublicId: string | null;

  /** Cloudinary delivery type of the cloud copy: `authenticated` (Kiln) or `upload` (the app). */
  cloudType: 'authenticated' | 'upload';

  cloudVersion: number | null;

  /** Bytes Cloudinary confirmed it holds. */
  cloudBytes: number | null;

  /** The BACKUP job that wrote it. */
  jobId: string | null;
}
