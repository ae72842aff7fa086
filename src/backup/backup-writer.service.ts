import type { DataSource } from 'typeorm';
import { KILN_VERSION } from '../config/version';
import { StorageUnavailableError } from '../errors/kiln-errors';
import { clientError } from '../errors/unexpected-error';
import type { JobRun } from '../jobs/job-runner';
import type { ProgressSink } from '../jobs/progress-meter';
import type { StorageDriver, StoredObject } from '../storage/storage-driver';
import { writeBackupFile, type WrittenBackupFile } from './backup-file.pipeline';
import { DEFAULT_READ_LIMITS, type BackupReadLimits } from './format/backup-reader';
import { tablesToBackUp } from './backup-tables';
import { BackupLocation, BackupStatus } from './backup.enums';
import type { BackupSigner } from './format/backup-signature';
import { SCHEMA_VERSION } from './new-backup-record';
import type { BackupRecord } from './records/backup-record';
import type { BackupRecordStore } from './records/backup-record.store';
import { estimateRows, type ExportOptions } from './snapshot/snapshot-exporter';

/** What writing a backup needs of the job it runs in. */
export type BackupRun = Pick<JobRun, 'job' | 'signal' | 'logger'> & { progress: ProgressSink };

/**
 * The BACKUP job's work: snapshot → JSON document → gzip above 1 MB → Kiln's
 * store → off-site copy (CLOUD, BOTH) → record. Which stores these are is the
 * factory's choice; the record's columns say where each copy went.
 */
export class BackupWriterService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly records: BackupRecordStore,
    private readonly storage: { primary: StorageDriver; offsite?: StorageDriver },
    private readonly signer: BackupSigner,
    private readonly encryptionKey: Buffer | undefined,
    private readonly reading: ExportOptions = {},
    /** MAX_BACKUP_LINE_BYTES, MAX_GZIP_EXPANSION: a file they would refuse is written, and said so. */
    private readonly readLimits: BackupReadLimits = {},
  ) {}

  async write(record: BackupRecord, run: BackupRun): Promise<{ message: string }> {
    const { progress, signal, job } = run;
    const local = this.storage.primary;
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
        storage: local,
        keyFor: (compressed) =>
          (compressed ? record.filename.replace(/\.json$/, '.json.gz') : record.filename) + (this.encryptionKey ? '.enc' : ''),
        encryptionKey: this.encryptionKey,
        signer: this.signer,
        reading: this.reading,
        tempTag: job.id,
        signal,
        onProgress: (change) => progress.update(change),
      });
      written = file.key;
      signal.throwIfAborted();
      const cloud = await this.copyOffsite(record, file.key, file.bytes, run);
      const keepLocal = record.location !== BackupLocation.CLOUD;
      if (!keepLocal) {
        await local.delete(file.key);
        if (!cloud.copy) throw new StorageUnavailableError(cloud.error!);
      }
      await this.records.update(record.id, {
        status: BackupStatus.COMPLETED,
        filename: file.key,
        // The absolute path, as the app writes it: the app's own backup screen can serve the file.
        localPath: keepLocal ? file.address : null,
        cloudinaryUrl: cloud.copy?.address || null,
        storedLocally: keepLocal,
        storedInCloud: cloud.copy !== undefined,
        cloudPublicId: cloud.copy?.key ?? null,
        cloudVersion: cloud.copy?.version ?? null,
        cloudBytes: cloud.copy?.bytes ?? null,
        cloudError: cloud.error ?? null,
        fileSize: file.bytes,
        compressed: file.compressed,
        encrypted: this.encryptionKey !== undefined,
        checksum: file.summary.checksum,
        fileChecksum: file.fileChecksum,
        snapshot: file.snapshot,
        snapshotAt: file.snapshotAt,
        recordCounts: file.summary.recordCounts,
        completedAt: new Date(),
      });
      const rows = Object.values(file.summary.recordCounts).reduce((a, b) => a + b, 0);
      progress.update({ rowsDone: rows, bytesDone: file.bytes, table: null });
      const where = [keepLocal ? 'local' : null, cloud.copy ? 'cloud' : null].filter(Boolean).join(' and ');
      const unreadable = readLimitsExceeded(file, this.readLimits);
      if (unreadable.length) run.logger.warn({ jobId: job.id, backupId: record.id, event: 'backup_exceeds_read_limits', problems: unreadable }, 'backup written beyond the read limits');
      return {
        message:
          `${rows} rows from ${tables.length} tables, ${file.bytes} bytes${file.compressed ? ' (gzip)' : ''}, stored ${where}` +
          (cloud.error ? `; cloud copy failed: ${cloud.error}` : '') +
          unreadable.map((problem) => `; warning: ${problem}`).join(''),
      };
    } catch (err) {
      // A file written before a later step failed must not outlive its FAILED record.
      if (written) await local.delete(written).catch(() => undefined);
      // A cancel or interruption says so; anything unexpected is masked here, so the record and the job show one reference.
      const reason: unknown = signal.aborted ? signal.reason : clientError(run.logger, err, 'backup failed');
      const message = reason instanceof Error ? reason.message : String(reason);
      await this.records.update(record.id, { status: BackupStatus.FAILED, error: message, completedAt: new Date() });
      throw reason;
    }
  }

  /** CLOUD and BOTH: copies the written file off-site; a failure is returned, not thrown (BOTH keeps the local copy). */
  private async copyOffsite(record: BackupRecord, key: string, bytes: number, run: BackupRun): Promise<{ copy?: StoredObject; error?: string }> {
    const offsite = this.storage.offsite;
    if (record.location === BackupLocation.LOCAL || !offsite) return {};
    run.progress.update({ phase: 'upload', table: null });
    try {
      // A way to reopen the file, not one stream: the driver may retry.
      return { copy: await offsite.put(key, () => this.storage.primary.get(key), { tempTag: run.job.id, signal: run.signal, expectedBytes: bytes }) };
    } catch (err) {
      if (run.signal.aborted) throw run.signal.reason;
      return { error: (err as Error).message };
    }
  }
}

/**
 * What in a file just written the read limits would refuse. The backup is kept (its data are
 * safe), but verifying or restoring it needs the setting raised first: better known now than
 * during a restore.
 */
export function readLimitsExceeded(file: Pick<WrittenBackupFile, 'summary' | 'peakExpansion'>, limits: BackupReadLimits): string[] {
  const maxLineBytes = limits.maxLineBytes ?? DEFAULT_READ_LIMITS.maxLineBytes;
  const maxGzipExpansion = limits.maxGzipExpansion ?? DEFAULT_READ_LIMITS.maxGzipExpansion;
  const problems: string[] = [];
  if (file.summary.longestLineBytes > maxLineBytes) {
    problems.push(
      `a row is ${file.summary.longestLineBytes} bytes, longer than MAX_BACKUP_LINE_BYTES (${maxLineBytes}): ` +
        `verifying or restoring this backup needs MAX_BACKUP_LINE_BYTES=${file.summary.longestLineBytes} or more`,
    );
  }
  if (file.peakExpansion > maxGzipExpansion) {
    const needed = Math.ceil(file.peakExpansion * 1.1);
    problems.push(
      `its data compress about ${Math.round(file.peakExpansion)}-fold, more than MAX_GZIP_EXPANSION (${maxGzipExpansion}) allows: ` +
        `verifying or restoring this backup needs MAX_GZIP_EXPANSION=${needed} or more`,
    );
  }
  return problems;
}
