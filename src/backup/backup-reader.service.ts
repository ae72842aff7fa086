import type { Readable } from 'node:stream';
import { decryptIfEncrypted } from '../crypto/decrypt-if-encrypted';
import { ConflictError, StorageUnavailableError } from '../errors/kiln-errors';
import type { BackupCopies } from './backup-copies';
import { BackupStatus } from './backup.enums';
import type { BackupReadLimits } from './format/backup-reader';
import { sqlExport, type SqlExportHeader } from './format/sql-export';
import type { BackupRecord } from './records/backup-record';

/** A copy a record names, with the bytes found there (null: missing) and the bytes expected. */
export interface StoredCopyFacts {
  location: 'LOCAL' | 'CLOUD';
  bytes: number | null;
  expected: number;
}

/** Reads stored backups, from whichever copy this gateway can reach (the local one first). */
export class BackupReaderService {
  constructor(
    private readonly copies: BackupCopies,
    private readonly readKeys: Buffer[],
  ) {}

  /** The stored file of a completed backup, as a stream of its plain bytes. */
  async openFile(record: BackupRecord): Promise<Readable> {
    if (record.status !== BackupStatus.COMPLETED) {
      throw new ConflictError(`Backup ${record.id} is ${record.status}: only a completed backup can be read`, { status: record.status });
    }
    let raw: Readable;
    try {
      const copy = (await this.copies.local(record)) ?? this.copies.cloud(record);
      if (!copy?.driver) throw new StorageUnavailableError(`Backup ${record.id} has no copy this gateway can reach`);
      raw = await copy.driver.get(copy.key);
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      throw new StorageUnavailableError(`The file of backup ${record.id} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return this.plain(raw);
  }

  /** Each copy the record names, with the bytes found there (null: missing) and the bytes expected. */
  async storedCopies(record: BackupRecord): Promise<StoredCopyFacts[]> {
    const copies: StoredCopyFacts[] = [];
    if (record.storedLocally && record.localPath) {
      const local = await this.copies.local(record);
      copies.push({ location: 'LOCAL', bytes: local ? ((await local.driver.stat(local.key))?.bytes ?? null) : null, expected: record.fileSize });
    }
    const cloud = record.storedInCloud ? this.copies.cloud(record) : null;
    if (cloud) {
      if (!cloud.driver) throw new StorageUnavailableError('Cloud storage is not configured: set CLOUDINARY_URL to reach the cloud copy');
      copies.push({ location: 'CLOUD', bytes: (await cloud.driver.stat(cloud.key))?.bytes ?? null, expected: record.cloudBytes ?? record.fileSize });
    }
    return copies;
  }

  /** Plain document bytes of a stored or uploaded file: decrypted when encrypted. */
  plain(raw: Readable): Promise<Readable> {
    return decryptIfEncrypted(raw, this.readKeys);
  }

  /** A completed backup as a SQL script (see sqlExport), read from its file as it is streamed. */
  async sqlScript(record: BackupRecord, limits: BackupReadLimits): Promise<{ filename: string; script: AsyncGenerator<string> }> {
    const input = await this.openFile(record);
    const about: SqlExportHeader = {
      source: record.filename,
      createdAt: record.createdAt.toISOString(),
      backupId: record.id,
      checksum: record.checksum,
      fileSha256: record.fileChecksum,
      recordCounts: record.recordCounts ?? {},
    };
    return { filename: `${record.filename.replace(/\.(json|gz|enc)(\.(gz|enc))*$/, '')}.sql`, script: sqlExport(input, about, { readKeys: [], limits }) };
  }
}
