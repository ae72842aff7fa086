import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { ConflictError, StorageUnavailableError } from '../errors/kiln-errors';
import type { BackupCopies } from './backup-copies';
import { BackupOrigin, BackupStatus, type BackupType } from './backup.enums';
import type { BackupRecord } from './records/backup-record';
import type { BackupRecordStore } from './records/backup-record.store';

/** Deletes backups: every copy first, then the record; a copy that cannot go keeps the record, saying why. */
export class BackupDeleterService {
  constructor(
    private readonly records: BackupRecordStore,
    private readonly copies: BackupCopies,
    private readonly audit: AuditLogService,
  ) {}

  /**
   * Deletes the files, then the record; refuses a backup still being written.
   * `actor` is null when Kiln itself deletes (retention); `why` then goes into the audit entry.
   */
  async delete(record: BackupRecord, actor: Identity | null, meta: RequestMeta | null, why?: { reason: string; jobId?: string }): Promise<boolean> {
    const id = record.id;
    if (record.status === BackupStatus.IN_PROGRESS) {
      throw new ConflictError(`Backup ${id} is still being written: cancel its job (${record.jobId}) first`, { jobId: record.jobId });
    }
    const cloud = this.copies.cloud(record);
    if (cloud) {
      try {
        if (!cloud.driver) throw new StorageUnavailableError('Cloud storage is not configured: the cloud copy cannot be deleted');
        await cloud.driver.delete(cloud.key);
      } catch (err) {
        // Nothing is orphaned silently: the record stays, saying why.
        const message = (err as Error).message;
        await this.records.update(id, { cloudError: `delete failed: ${message}` });
        throw err instanceof StorageUnavailableError ? err : new StorageUnavailableError(message);
      }
    }
    // A path leading out of the backup folders is never followed: only the record goes. An app row
    // (anybody with database access could write one) never deletes a file in Kiln's own folder.
    const local = record.localPath ? await this.copies.local(record).catch(() => null) : null;
    if (local && (record.origin === BackupOrigin.KILN || local.driver !== this.copies.primary)) await local.driver.delete(local.key);
    await this.records.delete(id);
    await this.audit.record({
      actorUserId: actor?.userId ?? null,
      action: 'BACKUP_DELETED',
      entityName: 'Backup',
      entityId: id,
      before: { filename: record.filename, status: record.status, checksum: record.checksum },
      metadata: why,
      ipAddress: meta?.ipAddress,
      userAgent: meta?.userAgent,
    });
    return true;
  }

  /** Removes the safety backups a job wrote that nobody was told about (its restore was refused): files and records, no audit entry. */
  async discard(jobId: string, type: BackupType): Promise<void> {
    for (const record of await this.records.findByJob(jobId, [type])) {
      const file = await this.copies.ownLocal(record);
      if (file) await file.driver.delete(file.key);
      await this.records.delete(record.id);
    }
  }
}
