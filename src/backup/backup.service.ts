import type { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import type { DownloadTokenService } from '../auth/token.service';
import { BadUserInputError, NotFoundError, StorageUnavailableError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobRunner, StartOptions } from '../jobs/job-runner';
import type { StorageDriver } from '../storage/storage-driver';
import type { BackupStorage } from '../storage/storage-factory';
import { BackupCopies } from './backup-copies';
import { BackupDeleterService } from './backup-deleter.service';
import { BackupLinksService, type DownloadSource } from './backup-links.service';
import { BackupReaderService, type StoredCopyFacts } from './backup-reader.service';
import { BackupRecoveryService } from './backup-recovery.service';
import { BackupWriterService, type BackupRun } from './backup-writer.service';
import { BackupLocation, BackupType } from './backup.enums';
import type { ExportOptions } from './snapshot/snapshot-exporter';
import type { BackupSigner } from './format/backup-signature';
import type { BackupReadLimits } from './format/backup-reader';
import { newBackupRecord, type CreateBackupOptions } from './new-backup-record';
import type { BackupRecord } from './records/backup-record';
import { BackupRecordStore, type BackupFilter } from './records/backup-record.store';

export type { BackupFilter, BackupRun, CreateBackupOptions };

/**
 * Takes, lists and deletes backups: the one entry point other modules use. The
 * record row is the truth about each file; the work is done by the writer,
 * reader, links, deleter and recovery services beside it, over the stores the
 * storage factory chose (which ones, this service does not know).
 */
export class BackupService {
  readonly records: BackupRecordStore;
  /** Kiln's store: every backup is written here first. */
  private readonly local: StorageDriver;
  /** The off-site store of CLOUD and BOTH backups, when one is configured. */
  private readonly cloud?: StorageDriver;
  private readonly writer: BackupWriterService;
  private readonly reader: BackupReaderService;
  private readonly links: BackupLinksService;
  private readonly deleter: BackupDeleterService;
  private readonly recovery: BackupRecoveryService;

  constructor(
    dataSource: DataSource,
    private readonly runner: JobRunner,
    storage: BackupStorage,
    private readonly audit: AuditLogService,
    downloads: DownloadTokenService,
    /** Signs what this service writes; restore and verify check files with it. */
    readonly signer: BackupSigner,
    encryption: { key?: Buffer; readKeys: Buffer[] } = { readKeys: [] },
    reading: ExportOptions = {},
    /** The bounds restore and verify read files with (config.backup.read). */
    readLimits: BackupReadLimits = {},
  ) {
    this.records = new BackupRecordStore(dataSource);
    const copies = new BackupCopies(storage);
    this.local = copies.primary;
    this.cloud = copies.offsite;
    this.writer = new BackupWriterService(dataSource, this.records, { primary: this.local, offsite: this.cloud }, signer, encryption.key, reading, readLimits);
    this.reader = new BackupReaderService(copies, encryption.readKeys);
    this.links = new BackupLinksService(copies, downloads);
    this.deleter = new BackupDeleterService(this.records, copies, audit);
    this.recovery = new BackupRecoveryService(runner, this.records, [this.local, ...(this.cloud ? [this.cloud] : [])]);
  }

  /**
   * Starts a BACKUP job and returns it at once; CONFLICT while another exclusive job runs, or with
   * `queue` a QUEUED job that starts in its turn (its record is written when it starts).
   */
  async create(options: CreateBackupOptions, type: BackupType, actor: Identity | null, meta?: RequestMeta, how: StartOptions = {}): Promise<Job> {
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

  /** Removes the safety backups a job wrote that nobody was told about (its restore was refused): files and records, no audit entry. */
  discard(jobId: string, type: BackupType): Promise<void> {
    return this.deleter.discard(jobId, type);
  }

  private newRecord(options: CreateBackupOptions, type: BackupType, actorId: string | null, id?: string): BackupRecord {
    return newBackupRecord(options, type, actorId, id);
  }

  /** The BACKUP job: snapshot → JSON document → gzip above 1 MB → storage → record. */
  private write(record: BackupRecord, run: BackupRun): Promise<{ message: string }> {
    return this.writer.write(record, run);
  }

  /** The stored file of a completed backup, as a stream of its bytes. */
  openFile(record: BackupRecord): Promise<Readable> {
    return this.reader.openFile(record);
  }

  /** Each copy the record names, with the bytes found there (null: missing) and the bytes expected. */
  storedCopies(record: BackupRecord): Promise<StoredCopyFacts[]> {
    return this.reader.storedCopies(record);
  }

  /** Plain document bytes of a stored or uploaded file: decrypted when encrypted. */
  plain(raw: Readable): Promise<Readable> {
    return this.reader.plain(raw);
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

  async require(id: string): Promise<BackupRecord> {
    const record = await this.get(id);
    if (!record) throw new NotFoundError('Backup', id);
    return record;
  }

  /** A link a browser can open without other credentials, valid for DOWNLOAD_URL_TTL; null while there is no file. */
  downloadUrl(record: BackupRecord, baseUrl: string): string | null {
    return this.links.downloadUrl(record, baseUrl);
  }

  /** The gateway's link to the backup as a SQL script (streamed by the download route, from wherever the file is). */
  sqlDownloadUrl(record: BackupRecord, baseUrl: string): string | null {
    return this.links.sqlDownloadUrl(record, baseUrl);
  }

  /** A completed backup as a SQL script (see sqlExport), read from its file as it is streamed. */
  async sqlScript(id: string, limits: BackupReadLimits): Promise<{ filename: string; script: AsyncGenerator<string> }> {
    return this.reader.sqlScript(await this.require(id), limits);
  }

  /** Where the file of a completed backup is, for the download route: the store's own link, or bytes the gateway streams. */
  async downloadTarget(id: string): Promise<DownloadSource | { redirect: string }> {
    return this.links.downloadTarget(await this.require(id));
  }

  /**
   * Deletes the files, then the record; refuses a backup still being written.
   * `actor` is null when Kiln itself deletes (retention); `why` then goes into the audit entry.
   */
  async delete(id: string, actor: Identity | null, meta: RequestMeta | null, why?: { reason: string; jobId?: string }): Promise<boolean> {
    return this.deleter.delete(await this.require(id), actor, meta, why);
  }

  /**
   * After a crash (the sweep of every instance's job reaper, at start and twice per lease TTL):
   * records of interrupted jobs become FAILED, partial files of jobs no longer running go.
   */
  recoverInterrupted(): Promise<void> {
    return this.recovery.recoverInterrupted();
  }
}
