import { migrations } from '../../migrations';
import { newId } from '../db/ids';
import { BackupStatus, type BackupLocation, type BackupType } from './backup.enums';
import { BACKUP_FORMAT_VERSION } from './format/backup-writer';
import { BackupRecord } from './records/backup-record';

export interface CreateBackupOptions {
  includeAuditLogs: boolean;
  includeSessions: boolean;
  location: BackupLocation;
}

/** The newest migration: the schema a backup taken now has. */
export const SCHEMA_VERSION = migrations[migrations.length - 1].name;

/** The IN_PROGRESS record of a backup about to be written (`id`: one reserved when its job was queued). */
export function newBackupRecord(options: CreateBackupOptions, type: BackupType, actorId: string | null, id = newId()): BackupRecord {
  const createdAt = new Date();
  return Object.assign(new BackupRecord(), {
    id,
    filename: `kiln-backup-${createdAt.toISOString().replace(/[:.]/g, '-')}-${id}.json`,
    type,
    status: BackupStatus.IN_PROGRESS,
    location: options.location,
    fileSize: 0,
    compressed: false,
    encrypted: false,
    checksum: null,
    fileChecksum: null,
    snapshot: null,
    snapshotAt: null,
    recordCounts: null,
    includeAuditLogs: options.includeAuditLogs,
    includeSessions: options.includeSessions,
    storedLocally: false,
    storedInCloud: false,
    error: null,
    createdById: actorId,
    createdAt,
    schemaVersion: SCHEMA_VERSION,
    formatVersion: BACKUP_FORMAT_VERSION,
    localPath: null,
    cloudinaryUrl: null,
    jobId: null,
  });
}
