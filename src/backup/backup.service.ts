import type { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import type { DownloadTokenService } from '../auth/token.service';
import { KILN_VERSION } from '../config/version';
import { newId } from '../db/ids';
import { BadUserInputError, ConflictError, NotFoundError, StorageUnavailableError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobRun, JobRunner } from '../jobs/job-runner';
import type { ProgressSink } from '../jobs/progress-meter';
import type { CloudCopy, CloudinaryStorageDriver } from '../storage/cloudinary-storage.driver';
import { LocalStorageDriver } from '../storage/local-storage.driver';
import { tablesToBackUp } from './backup-tables';
import { BackupRecord } from './records/backup-record';
import { BackupRecordStore, type BackupFilter } from './records/backup-record.store';
import { resolveLocalFile } from './records/backup-file-location';
import { BackupLocation, BackupOrigin, BackupStatus, BackupType } from './backup.enums';
import { decryptIfEncrypted } from '../crypto/decrypt-if-encrypted';
import { writeBackupFile } from './backup-file.pipeline';
import { clientError } from '../errors/unexpected-error';
import type { BackupSigner } from './format/backup-signature';
import { BACKUP_FORMAT_VERSION } from './format/backup-writer';
import type { BackupReadLimits } from './format/backup-reader';
import { sqlExport, type SqlExportHeader } from './format/sql-export';
import { estimateRows } from './snapshot/snapshot-exporter';

export interface CreateBackupOptions {
  includeAuditLogs: boolean;
  includeSessions: boolean;
  location: BackupLocation;
}

export type { BackupFilter };

const SCHEMA_VERSION = migrations[migrations.length - 1].name;

/** What writing a backup needs of the job it runs in. */
export type BackupRun = Pick<JobRun, 'job' | 'signal' | 'logger'> & { progress: ProgressSink };

/** Takes, lists and deletes backups. The record row is the truth about each file. */
export class BackupService {
  readonly records: BackupRecordStore;
  /** Folders a record's localPath may point into: Kiln's BACKUP_DIR, then the app's APP_BACKUP_DIR. */
  private readonly localDirs: string[];

  constructor(
    private readonly dataSource: DataSource,
    private readonly runner: JobRunner,
    private readonly local: LocalStorageDriver,
    private readonly audit: AuditLogService,
    private readonly downloads: DownloadTokenService,
    /** Signs what this service writes; restore and verify check files with it. */
    readonly signer: BackupSigner,
    private readonly encryption: { key?: Buffer; readKeys: Buffer[] } = { readKeys: [] },
    private readonly cloud?: CloudinaryStorageDriver,
    appBackupDir?: string,
  ) {
    this.records = new BackupRecordStore(dataSource);
    this.localDirs = [local.dir, ...(appBackupDir && appBackupDir !== local.dir ? [appBackupDir] : [])];
  }

  /**
   * Starts a BACKUP job and returns it at once; CONFLICT while another exclusive job runs, or with
   * `queue` a QUEUED job that starts in its turn (its record is written when it starts).
   */
  async create(options: CreateBackupOptions, type: BackupType, actor: Identity | null, meta?: RequestMeta, how: { queue?: boolean } = {}): Promise<Job> {
    if (options.location === BackupLocation.UNKNOWN) throw new BadUserInputError('location must be LOCAL, CLOUD or BOTH', { field: 'location' });
    if (options.location !== BackupLocation.LOCAL && !this.cloud) {
      throw new StorageUnavailableError('Cloud storage is not configured: set CLOUDINARY_URL to store backups in the cloud');
    }
    await this.local.assertWritable();
    const record = this.newRecord(options, type, actor?.userId ?? null);
    const id = record.id;
    const job = await this.runner.start({
      kind: JobKind.BACKUP,
      backupId: id,
      requestedById: actor?.userId ?? null,
      input: { type, location: options.location, includeAuditLogs: options.includeAuditLogs, includeSessions: options.includeSessions },
      prepare: async (jobId) => {
        // Dated when the backup starts, not when it was queued.
        Object.assign(record, this.newRecord(options, type, actor?.userId ?? null, id));
        await this.records.insert({ ...record, jobId });
      },
      run: (run) => this.write(record, run),
    }, how);
    if (type === BackupType.MANUAL && actor) {
      await this.audit.record({
        actorUserId: actor.userId,
        action: 'BACKUP_CREATED',
        entityName: 'Backup',
        entityId: id,
        metadata: { jobId: job.id, ...options },
        ipAddress: meta?.ipAddress,
        userAgent: meta?.userAgent,
      });
    }
    return job;
  }

  /**
   * A safety backup (PRE_RESTORE, PRE_RESET) written inside a job that already
   * holds the exclusive lease: local, with every table, before data is replaced.
   */
  async backupWithin(run: BackupRun, type: BackupType, actorId: string | null): Promise<BackupRecord> {
    const record = this.newRecord({ includeAuditLogs: true, includeSessions: true, location: BackupLocation.LOCAL }, type, actorId);
    record.jobId = run.job.id;
    await this.local.assertWritable();
    await this.records.insert(record);
    await this.write(record, run);
    return this.require(record.id);
  }

  /**
   * A FAILED record saying why, of a backup that wrote nothing and has no job. Kiln itself no longer
   * makes one (a scheduled fire queues its job instead); tests make them to stand for failures.
   */
  async recordFailed(options: CreateBackupOptions, type: BackupType, reason: string): Promise<BackupRecord> {
    const record = this.newRecord(options, type, null);
    Object.assign(record, { status: BackupStatus.FAILED, error: reason, completedAt: new Date() });
    await this.records.insert(record);
    return record;
  }

  /** Removes the safety backups a job wrote that nobody was told about (its restore was refused): files and records, no audit entry. */
  async discard(jobId: string, type: BackupType): Promise<void> {
    for (const record of await this.records.findByJob(jobId, [type])) {
      const file = record.localPath ? await resolveLocalFile(record.localPath, [this.local.dir]) : null;
      if (file && 'name' in file) await this.local.delete(file.name);
      await this.records.delete(record.id);
    }
  }

  private newRecord(options: CreateBackupOptions, type: BackupType, actorId: string | null, id = newId()): BackupRecord {
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

  /** The stored file of a completed backup, as a stream of its bytes. */
  async openFile(record: BackupRecord): Promise<Readable> {
    if (record.status !== BackupStatus.COMPLETED) {
      throw new ConflictError(`Backup ${record.id} is ${record.status}: only a completed backup can be read`, { status: record.status });
    }
    let raw: Readable;
    try {
      const local = await this.localFile(record);
      if (local) raw = await local.driver.get(local.key);
      else if (record.cloudPublicId && this.cloud) raw = await this.cloud.get(record.cloudPublicId, record.cloudType);
      else throw new StorageUnavailableError(`Backup ${record.id} has no copy this gateway can reach`);
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      throw new StorageUnavailableError(`The file of backup ${record.id} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return this.plain(raw);
  }

  /** Each copy the record names, with the bytes found there (null: missing) and the bytes expected. */
  async storedCopies(record: BackupRecord): Promise<Array<{ location: 'LOCAL' | 'CLOUD'; bytes: number | null; expected: number }>> {
    const copies: Array<{ location: 'LOCAL' | 'CLOUD'; bytes: number | null; expected: number }> = [];
    if (record.storedLocally && record.localPath) {
      const local = await this.localFile(record);
      copies.push({ location: 'LOCAL', bytes: local ? ((await local.driver.stat(local.key))?.bytes ?? null) : null, expected: record.fileSize });
    }
    if (record.storedInCloud && record.cloudPublicId) {
      if (!this.cloud) throw new StorageUnavailableError('Cloud storage is not configured: set CLOUDINARY_URL to reach the cloud copy');
      copies.push({
        location: 'CLOUD',
        bytes: (await this.cloud.stat(record.cloudPublicId, record.cloudType))?.bytes ?? null,
        expected: record.cloudBytes ?? record.fileSize,
      });
    }
    return copies;
  }

  /** Plain document bytes of a stored or uploaded file: decrypted when encrypted. */
  plain(raw: Readable): Promise<Readable> {
    return decryptIfEncrypted(raw, this.encryption.readKeys);
  }

  async markVerified(id: string): Promise<void> {
    await this.records.markVerified(id);
  }

  list(filter: BackupFilter, limit: number, offset: number): Promise<{ items: BackupRecord[]; total: number }> {
    return this.records.list(filter, limit, offset);
  }

  get(id: string): Promise<BackupRecord | null> {
    return this.records.get(id);
  }

  /**
   * The local copy a record's localPath names inside BACKUP_DIR or APP_BACKUP_DIR; null when
   * there is none; STORAGE_UNAVAILABLE for a path leading elsewhere (it is never read).
   */
  private async localFile(record: BackupRecord): Promise<{ driver: LocalStorageDriver; key: string } | null> {
    if (!record.localPath) return null;
    const found = await resolveLocalFile(record.localPath, this.localDirs);
    if (found === null) return null;
    if ('refused' in found) throw new StorageUnavailableError(`The file of backup ${record.id} cannot be read: ${found.refused}`, { reason: 'PATH_REFUSED' });
    return { driver: found.dir === this.local.dir ? this.local : new LocalStorageDriver(found.dir), key: found.name };
  }

  async require(id: string): Promise<BackupRecord> {
    const record = await this.get(id);
    if (!record) throw new NotFoundError('Backup', id);
    return record;
  }

  /** A link a browser can open without other credentials, valid for DOWNLOAD_URL_TTL; null while there is no file. */
  downloadUrl(record: BackupRecord, baseUrl: string): string | null {
    if (record.status !== BackupStatus.COMPLETED) return null;
    if (!record.localPath) {
      // Cloud-only: Cloudinary's own signed, expiring link.
      return record.cloudPublicId && this.cloud ? this.cloud.signedUrl(record.cloudPublicId, this.downloads.ttlSeconds, record.cloudType) : null;
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

  /** A completed backup as a SQL script (see sqlExport), read from its file as it is streamed. */
  async sqlScript(id: string, limits: BackupReadLimits): Promise<{ filename: string; script: AsyncGenerator<string> }> {
    const record = await this.require(id);
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

  /** Where the file of a completed backup is, for the download route. */
  async downloadTarget(id: string): Promise<{ path: string; filename: string; fileChecksum: string | null; bytes: number } | { redirect: string }> {
    const record = await this.require(id);
    if (record.status !== BackupStatus.COMPLETED) {
      throw new ConflictError(`Backup ${id} is ${record.status}: only a completed backup can be downloaded`, { status: record.status });
    }
    if (!record.localPath && record.cloudPublicId && this.cloud) {
      return { redirect: this.cloud.signedUrl(record.cloudPublicId, this.downloads.ttlSeconds, record.cloudType) };
    }
    const local = await this.localFile(record);
    if (!local) throw new StorageUnavailableError(`The file of backup ${id} is missing from local storage`);
    return { path: local.driver.pathOf(local.key), filename: record.filename, fileChecksum: record.fileChecksum, bytes: record.fileSize };
  }

  /**
   * Deletes the files, then the record; refuses a backup still being written.
   * `actor` is null when Kiln itself deletes (retention); `why` then goes into the audit entry.
   */
  async delete(id: string, actor: Identity | null, meta: RequestMeta | null, why?: { reason: string; jobId?: string }): Promise<boolean> {
    const record = await this.require(id);
    if (record.status === BackupStatus.IN_PROGRESS) {
      throw new ConflictError(`Backup ${id} is still being written: cancel its job (${record.jobId}) first`, { jobId: record.jobId });
    }
    if (record.cloudPublicId) {
      try {
        if (!this.cloud) throw new StorageUnavailableError('Cloud storage is not configured: the cloud copy cannot be deleted');
        await this.cloud.delete(record.cloudPublicId, record.cloudType);
      } catch (err) {
        // Nothing is orphaned silently: the record stays, saying why.
        const message = (err as Error).message;
        await this.records.update(id, { cloudError: `delete failed: ${message}` });
        throw err instanceof StorageUnavailableError ? err : new StorageUnavailableError(message);
      }
    }
    // A path leading out of the backup folders is never followed: only the record goes. An app row
    // (anybody with database access could write one) never deletes a file in Kiln's own folder.
    const local = record.localPath ? await this.localFile(record).catch(() => null) : null;
    if (local && (record.origin === BackupOrigin.KILN || local.driver !== this.local)) await local.driver.delete(local.key);
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

  /**
   * After a crash (the sweep of every instance's job reaper, at start and twice per lease TTL):
   * records of interrupted jobs become FAILED, partial files of jobs no longer running go.
   */
  async recoverInterrupted(): Promise<void> {
    const interrupted = await this.runner.failInterruptedJobs();
    for (const job of interrupted) {
      if (job.kind !== JobKind.BACKUP || !job.backupId) continue;
      await this.records.update(job.backupId, { status: BackupStatus.FAILED, error: job.error, completedAt: new Date() }, BackupStatus.IN_PROGRESS);
    }
    await this.local.removeIncomplete(() => this.runner.activeJobIds());
  }

  /** The BACKUP job: snapshot → JSON document → gzip above 1 MB → storage → record. */
  private async write(record: BackupRecord, run: BackupRun): Promise<{ message: string }> {
    const { progress, signal, job } = run;
    const tables = tablesToBackUp(record);
    const estimates = await estimateRows(this.dataSource, tables);
    progress.update({ phase: 'export', rowsTotal: estimates.reduce((n, e) => n + e.rows, 0) });

    let written: string | undefined;
    try {
      const file = await writeBackupFile({
        dataSource: this.dataSource,
        header: {
          kilnVersion: KILN_VERSION,
          schemaVersion: SCHEMA_VERSION,
          createdAt: record.createdAt.toISOString(),
          tables,
          options: { includeAuditLogs: record.includeAuditLogs, includeSessions: record.includeSessions },
          backupId: record.id,
        },
        storage: this.local,
        keyFor: (compressed) =>
          (compressed ? record.filename.replace(/\.json$/, '.json.gz') : record.filename) + (this.encryption.key ? '.enc' : ''),
        encryptionKey: this.encryption.key,
        signer: this.signer,
        tempTag: job.id,
        signal,
        onProgress: (change) => progress.update(change),
      });
      written = file.key;
      signal.throwIfAborted();
      const cloud = await this.copyToCloud(record, file.key, file.bytes, run);
      const keepLocal = record.location !== BackupLocation.CLOUD;
      if (!keepLocal) {
        await this.local.delete(file.key);
        if (!cloud.copy) throw new StorageUnavailableError(cloud.error!);
      }
      await this.records.update(record.id, {
        status: BackupStatus.COMPLETED,
        filename: file.key,
        // The absolute path, as the app writes it: the app's own backup screen can serve the file.
        localPath: keepLocal ? this.local.pathOf(file.key) : null,
        cloudinaryUrl: cloud.copy?.url || null,
        storedLocally: keepLocal,
        storedInCloud: cloud.copy !== undefined,
        cloudPublicId: cloud.copy?.publicId ?? null,
        cloudVersion: cloud.copy?.version ?? null,
        cloudBytes: cloud.copy?.bytes ?? null,
        cloudError: cloud.error ?? null,
        fileSize: file.bytes,
        compressed: file.compressed,
        encrypted: this.encryption.key !== undefined,
        checksum: file.summary.checksum,
        fileChecksum: file.fileChecksum,
        recordCounts: file.summary.recordCounts,
        completedAt: new Date(),
      });
      const rows = Object.values(file.summary.recordCounts).reduce((a, b) => a + b, 0);
      progress.update({ rowsDone: rows, bytesDone: file.bytes, table: null });
      const where = [keepLocal ? 'local' : null, cloud.copy ? 'cloud' : null].filter(Boolean).join(' and ');
      return {
        message:
          `${rows} rows from ${tables.length} tables, ${file.bytes} bytes${file.compressed ? ' (gzip)' : ''}, stored ${where}` +
          (cloud.error ? `; cloud copy failed: ${cloud.error}` : ''),
      };
    } catch (err) {
      // A file written before a later step failed must not outlive its FAILED record.
      if (written) await this.local.delete(written).catch(() => undefined);
      // A cancel or interruption says so; anything unexpected is masked here, so the record and the job show one reference.
      const reason = signal.aborted ? signal.reason : clientError(run.logger, err, 'backup failed');
      const message = reason instanceof Error ? reason.message : String(reason);
      await this.records.update(record.id, { status: BackupStatus.FAILED, error: message, completedAt: new Date() });
      throw reason;
    }
  }

  /** CLOUD and BOTH: uploads the written file; a failure is returned, not thrown (BOTH keeps the local copy). */
  private async copyToCloud(record: BackupRecord, key: string, bytes: number, run: BackupRun): Promise<{ copy?: CloudCopy; error?: string }> {
    if (record.location === BackupLocation.LOCAL || !this.cloud) return {};
    run.progress.update({ phase: 'upload', table: null });
    try {
      return { copy: await this.cloud.upload(key, () => this.local.get(key), bytes, run.signal) };
    } catch (err) {
      if (run.signal.aborted) throw run.signal.reason;
      return { error: (err as Error).message };
    }
  }
}
