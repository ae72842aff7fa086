import type { Readable } from 'node:stream';
import type { DownloadTokenService } from '../auth/token.service';
import { ConflictError, StorageUnavailableError } from '../errors/kiln-errors';
import type { ByteRange } from '../storage/storage-driver';
import type { BackupCopies, BackupCopy } from './backup-copies';
import { BackupStatus } from './backup.enums';
import type { BackupRecord } from './records/backup-record';

/** A stored file the gateway streams itself (GET /backups/:id/download). */
export interface DownloadSource {
  filename: string;
  fileChecksum: string | null;
  /** Bytes stored now (what ranges are counted against). */
  bytes: number;
  modifiedAt?: Date;
  open(range?: ByteRange): Promise<Readable>;
}

/**
 * Links to backup files: the gateway's own signed link for a file it streams,
 * the store's own signed, expiring link (Cloudinary's) for a copy kept only off-site.
 */
export class BackupLinksService {
  constructor(
    private readonly copies: BackupCopies,
    private readonly downloads: DownloadTokenService,
  ) {}

  /** A link a browser can open without other credentials, valid for DOWNLOAD_URL_TTL; null while there is no file. */
  downloadUrl(record: BackupRecord, baseUrl: string): string | null {
    if (record.status !== BackupStatus.COMPLETED) return null;
    if (!record.localPath) {
      // Only off-site: the store's own signed, expiring link, else the gateway's (it streams from the store).
      const cloud = this.copies.cloud(record);
      if (!cloud?.driver) return null;
      const url = cloud.driver.signedUrl(cloud.key, this.downloads.ttlSeconds);
      if (url) return url;
    }
    const { token } = this.downloads.sign(record.id);
    return `${baseUrl}/backups/${encodeURIComponent(record.id)}/download?token=${token}`;
  }

  /** The gateway's link to the backup as a SQL script (streamed by the download route, from wherever the file is). */
  sqlDownloadUrl(record: BackupRecord, baseUrl: string): string | null {
    if (record.status !== BackupStatus.COMPLETED) return null;
    const { token } = this.downloads.sign(record.id);
    return `${baseUrl}/backups/${encodeURIComponent(record.id)}/download?format=sql&token=${token}`;
  }

  /** Where the download route gets the file of a completed backup: a redirect to the store's own link, or bytes it streams. */
  async downloadTarget(record: BackupRecord): Promise<DownloadSource | { redirect: string }> {
    if (record.status !== BackupStatus.COMPLETED) {
      throw new ConflictError(`Backup ${record.id} is ${record.status}: only a completed backup can be downloaded`, { status: record.status });
    }
    if (!record.localPath) {
      const cloud = this.copies.cloud(record);
      if (cloud?.driver) {
        const url = cloud.driver.signedUrl(cloud.key, this.downloads.ttlSeconds);
        return url ? { redirect: url } : this.source(record, { driver: cloud.driver, key: cloud.key }, 'off-site');
      }
    }
    const local = await this.copies.local(record);
    if (!local) throw new StorageUnavailableError(`The file of backup ${record.id} is missing from local storage`);
    return this.source(record, local, 'local');
  }

  private async source(record: BackupRecord, copy: BackupCopy, where: string): Promise<DownloadSource> {
    const facts = await copy.driver.stat(copy.key);
    if (!facts) throw new StorageUnavailableError(`The file of backup ${record.id} is missing from ${where} storage`);
    return {
      filename: record.filename,
      fileChecksum: record.fileChecksum,
      bytes: facts.bytes,
      modifiedAt: facts.modifiedAt,
      open: (range) => copy.driver.get(copy.key, range),
    };
  }
}
