import { StorageUnavailableError } from '../errors/kiln-errors';
import type { LocalStorageDriver } from '../storage/local-storage.driver';
import type { StorageDriver } from '../storage/storage-driver';
import type { BackupStorage } from '../storage/storage-factory';
import type { BackupRecord } from './records/backup-record';
import { resolveLocalFile } from './records/backup-file-location';

/** One copy of a backup: the store that holds it, and its key there. */
export interface BackupCopy {
  driver: StorageDriver;
  key: string;
}

/**
 * Which store holds each copy a record names. The record's columns are the
 * app's (localPath, cloudPublicId): the local copy is a file in BACKUP_DIR or
 * APP_BACKUP_DIR, the cloud copy Kiln's off-site store or, for the app's own
 * rows, the app's uploads. Everything past this point goes through the driver.
 */
export class BackupCopies {
  /** Folders a record's localPath may point into: Kiln's BACKUP_DIR, then the app's APP_BACKUP_DIR. */
  private readonly localDrivers: LocalStorageDriver[];

  constructor(readonly storage: BackupStorage) {
    this.localDrivers = [storage.local, ...(storage.app.local ? [storage.app.local] : [])];
  }

  /** Kiln's own store: where backups are written (BACKUP_DIR). */
  get primary(): StorageDriver {
    return this.storage.local;
  }

  /** Kiln's off-site store (CLOUD, BOTH), when one is configured. */
  get offsite(): StorageDriver | undefined {
    return this.storage.offsite;
  }

  /**
   * The local copy a record's localPath names inside BACKUP_DIR or APP_BACKUP_DIR; null when
   * there is none; STORAGE_UNAVAILABLE for a path leading elsewhere (it is never read).
   */
  async local(record: BackupRecord): Promise<BackupCopy | null> {
    if (!record.localPath) return null;
    const found = await resolveLocalFile(record.localPath, this.localDrivers.map((d) => d.dir));
    if (found === null) return null;
    if ('refused' in found) throw new StorageUnavailableError(`The file of backup ${record.id} cannot be read: ${found.refused}`, { reason: 'PATH_REFUSED' });
    return { driver: this.localDrivers.find((d) => d.dir === found.dir)!, key: found.name };
  }

  /** The local copy only when it is in Kiln's own folder (a safety backup being discarded); never throws for a bad path. */
  async ownLocal(record: BackupRecord): Promise<BackupCopy | null> {
    const found = record.localPath ? await resolveLocalFile(record.localPath, [this.storage.local.dir]) : null;
    return found && 'name' in found ? { driver: this.storage.local, key: found.name } : null;
  }

  /**
   * The cloud copy the record names (null when none), with the store that holds it:
   * undefined when this gateway has none configured.
   */
  cloud(record: BackupRecord): { driver: StorageDriver | undefined; key: string } | null {
    if (!record.cloudPublicId) return null;
    return { driver: record.cloudType === 'upload' ? this.storage.app.offsite : this.storage.offsite, key: record.cloudPublicId };
  }
}
