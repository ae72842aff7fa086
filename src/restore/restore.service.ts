import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import type { BackupReadLimits } from '../backup/format/backup-reader';
import type { DataSource } from 'typeorm';
import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import type { BackupRecord } from '../backup/records/backup-record';
import type { BackupService } from '../backup/backup.service';
import { LENDING_TABLES, User } from '../domain';
import { SignatureCheck } from '../backup/format/backup-signature';
import type { BackupFileReport } from './backup-file-report.type';
import { BackupCorruptError, BadUserInputError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobRun, JobRunner } from '../jobs/job-runner';
import type { MaintenanceService } from '../system/maintenance.service';
import { checkAuthenticity, describeAuthenticity, type Authenticity } from './backup-authenticity';
import { asRestoreError, openCheckedBackup, readRestoreHeader, validateBackupFile, type CheckedBackup } from './backup-validator';
import { readLendingCatalog, type LendingCatalog } from './lending-catalog';
import { accountChanges, describeAccountChanges, rememberAccounts, type AccountChanges } from './account-changes';
import { loadBackupInTransaction, type LoadResult } from './table-loader';
import { inRestoreTransaction, type RestoreTransaction } from './restore-transaction';
import { recordedRows, RestoreProgress } from './restore-progress';
import { SafetyBackup } from './safety-backup';
import { receiveUpload, type ReceivedUpload, type UploadLimits } from './upload-receiver';
import type { JournalService, PointInTimePlan } from '../journal/journal.service';
import { previewJournal, replayJournal, type ReplayOptions, type ReplayResult } from '../journal/journal-replay';
import type { PointInTimePreview, RecoveryWindow } from '../journal/journal.types';

/** A stored backup (with the journal replayed on top, to an instant), or an uploaded file. */
type RestoreSource = { kind: 'stored'; record: BackupRecord; pointInTime?: PointInTimePlan } | { kind: 'upload'; upload: ReceivedUpload };

// A restore opens its file twice: its header is checked first, then the one pass that loads it.
const READ_PASSES = 2;

export interface RestoreOptions {
  /** Restore a file whose Kiln signature does not verify (see checkAuthenticity). */
  allowUnsigned?: boolean;
}

/**
 * Restores the lending data from a stored or uploaded backup: check its header, take a
 * PRE_RESTORE safety backup, then replace the data in one transaction that checks the
 * whole file as it loads it, and log everybody out. Only in maintenance mode.
 */
export class RestoreService {
  /** The change journal, when this process runs one (the gateway; not the offline CLI). */
  private journal: JournalService | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly runner: JobRunner,
    private readonly backups: BackupService,
    private readonly maintenance: MaintenanceService,
    private readonly audit: AuditLogService,
    private readonly uploads: UploadLimits,
    /** MAX_BACKUP_LINE_BYTES, MAX_GZIP_EXPANSION: both passes over the file keep to the same bounds. */
    private readonly readLimits: BackupReadLimits = {},
  ) {}

  async restore(
    id: string | null | undefined,
    file: Promise<FileUpload> | null | undefined,
    actor: Identity,
    meta: RequestMeta,
    options: RestoreOptions = {},
  ): Promise<Job> {
    if ((id == null) === (file == null)) throw new BadUserInputError('Give exactly one of id (a stored backup) or file (an uploaded backup)');
    await this.maintenance.assertEnabled();
    if (id != null) return this.start({ kind: 'stored', record: await this.backups.require(id) }, actor.userId, meta, options);

    const upload = await receiveUpload(file!, this.uploads, READ_PASSES);
    try {
      return await this.start({ kind: 'upload', upload }, actor.userId, meta, options);
    } catch (err) {
      upload.discard();
      throw err;
    }
  }

  usePointInTime(journal: JournalService): void {
    this.journal = journal;
  }

  /**
   * Restores the lending data as they were at `at`: the newest base backup taken before it, then
   * every journal transaction committed up to `at` that the base does not hold, replayed in the
   * same one transaction (validation, safety backup, sessions revoked, audit: as restoreBackup).
   */
  async restoreToPointInTime(at: Date, actor: Identity, meta: RequestMeta): Promise<Job> {
    if (Number.isNaN(at.getTime())) throw new BadUserInputError('at is not a time', { field: 'at' });
    await this.maintenance.assertEnabled();
    const plan = await this.requireJournal().plan(at, (until) => this.backups.records.pointInTimeBases(until));
    return this.start({ kind: 'stored', record: plan.base, pointInTime: plan }, actor.userId, meta, {});
  }

  /** What a restore to `at` would load and replay, read from the journal; nothing is changed. */
  async pointInTimePreview(at: Date): Promise<PointInTimePreview> {
    const journal = this.requireJournal();
    const plan = await journal.plan(at, (until) => this.backups.records.pointInTimeBases(until));
    const replayed = await previewJournal(this.replayOptions(plan, Object.keys(plan.base.recordCounts ?? {}), new AbortController().signal));
    return {
      at,
      base: plan.base,
      segments: plan.segments.length,
      transactions: replayed.transactions,
      tables: Object.entries(replayed.changes).map(([table, changes]) => ({ table, changes })),
    };
  }

  /** What can be restored to a point in time (see JournalService.window). */
  recoveryWindow(): Promise<RecoveryWindow> {
    return this.requireJournal().window((until) => this.backups.records.pointInTimeBases(until));
  }

  private requireJournal(): JournalService {
    if (!this.journal) throw new BadUserInputError('The change journal is not available in this process', { field: 'at' });
    return this.journal;
  }

  /**
   * Reads an uploaded file through as a restore's first pass does (layout, checksum, tables,
   * columns, signature) and says what it holds; nothing is changed, maintenance is not needed.
   */
  async inspectUpload(file: Promise<FileUpload>): Promise<BackupFileReport> {
    const upload = await receiveUpload(file, this.uploads, 1);
    try {
      const raw = upload.open();
      const plain = await this.backups.plain(raw);
      const catalog = await readLendingCatalog(this.dataSource.manager);
      const checked = await validateBackupFile(plain, catalog, null, () => undefined, new AbortController().signal, this.readLimits);
      const signature = checked.headerLine === undefined ? SignatureCheck.UNSIGNED : this.backups.signer.check(checked.headerLine, checked.checksum, checked.signature);
      const createdAt = new Date(checked.header.createdAt);
      return {
        filename: upload.filename,
        bytes: upload.bytes,
        createdAt: Number.isNaN(createdAt.getTime()) ? null : createdAt,
        kilnVersion: checked.header.kilnVersion ?? null,
        // decryptIfEncrypted hands back the stream it was given unless it decrypts it.
        encrypted: plain !== raw,
        signature,
        rows: checked.rows,
        tables: checked.header.tables.map((name) => ({ name, rows: checked.recordCounts[name] ?? 0 })),
        tablesKept: LENDING_TABLES.filter((t) => !checked.plan.replaced.includes(t)),
      };
    } finally {
      upload.discard();
    }
  }

  /**
   * Restores a file of this machine (`kiln file restore`: no gateway, no signed-in admin, so the
   * audit entry and the safety backup name nobody). Everything else is the restore above.
   */
  async restoreLocalFile(file: string, meta: RequestMeta, options: RestoreOptions = {}): Promise<Job> {
    await this.maintenance.assertEnabled();
    const { size } = await stat(file);
    const opened: Readable[] = [];
    const upload: ReceivedUpload = {
      filename: path.basename(file),
      bytes: size,
      open: () => {
        const stream = createReadStream(file);
        opened.push(stream);
        return stream;
      },
      discard: () => opened.forEach((stream) => stream.destroy()),
    };
    return this.start({ kind: 'upload', upload }, null, meta, options);
  }

  private start(source: RestoreSource, actorId: string | null, meta: RequestMeta, options: RestoreOptions): Promise<Job> {
    return this.runner.start({
      kind: JobKind.RESTORE,
      requestedById: actorId,
      backupId: source.kind === 'stored' ? source.record.id : undefined,
      input: {
        ...(source.kind === 'stored' ? { backupId: source.record.id } : { upload: source.upload.filename }),
        ...(source.kind === 'stored' && source.pointInTime ? { pointInTime: source.pointInTime.at.toISOString() } : {}),
        ...(options.allowUnsigned ? { allowUnsigned: true } : {}),
      },
      run: (run) =>
        this.run(source, run, actorId, meta, options.allowUnsigned === true).finally(() => {
          if (source.kind === 'upload') source.upload.discard();
        }),
    });
  }

  /**
   * One pass over the file: its header is checked first (a file that is no backup, or of tables this
   * database lacks, is refused before anything starts), then the safety backup is taken, then the
   * rows are checked as they are loaded in the restore's one transaction, which commits only when
   * the whole file passed (checksum, columns, signature). A refused file leaves the data as they
   * were and nothing of its safety backup.
   */
  private async run(source: RestoreSource, run: JobRun, actorId: string | null, meta: RequestMeta, allowUnsigned: boolean): Promise<{ message: string }> {
    const { signal } = run;
    const recordedChecksum = source.kind === 'stored' ? source.record.checksum : null;
    const open = (): Promise<Readable> =>
      source.kind === 'stored' ? this.backups.openFile(source.record) : this.backups.plain(source.upload.open());
    const progress = new RestoreProgress(run.progress, source.kind === 'stored' ? recordedRows(source.record.recordCounts) : undefined);
    const catalog = await readLendingCatalog(this.dataSource.manager);

    progress.checking();
    await readRestoreHeader(await open(), catalog, signal, this.readLimits);
    const safetyBackup = new SafetyBackup(this.backups, run, actorId);
    try {
      const safety = await safetyBackup.take(progress.safety);
      const restored = await inRestoreTransaction(this.dataSource, run.job.id, signal, async (tx) => {
        const file = await openCheckedBackup(await open(), catalog, recordedChecksum, this.readLimits);
        try {
          return await this.replaceData(tx, file, catalog, progress, signal, { recordedChecksum, allowUnsigned, safetyId: safety.id, source, actorId, meta, jobId: run.job.id });
        } finally {
          file.close();
        }
      });
      return { message: restoredMessage(restored, source, safety.id) };
    } catch (err) {
      const known = asRestoreError(err, signal);
      if (known instanceof BackupCorruptError || known instanceof BadUserInputError) await safetyBackup.discard();
      throw known;
    }
  }

  /** Inside the transaction: the load, then who can log in now, everybody logged out, the audit entry. */
  private async replaceData(
    tx: RestoreTransaction,
    file: CheckedBackup,
    catalog: LendingCatalog,
    progress: RestoreProgress,
    signal: AbortSignal,
    about: { recordedChecksum: string | null; allowUnsigned: boolean; safetyId: string; source: RestoreSource; actorId: string | null; meta: RequestMeta; jobId: string },
  ): Promise<Restored> {
    const { client, manager } = tx;
    const { source, actorId } = about;
    await rememberAccounts(client);
    const journal: { replayed: ReplayResult | null } = { replayed: null };
    const pointInTime = source.kind === 'stored' ? source.pointInTime : undefined;
    const replay = pointInTime ? async () => void (journal.replayed = await this.replay(tx, pointInTime, file.plan.replaced, signal)) : undefined;
    const loaded = await loadBackupInTransaction(client, file.events, file.plan, catalog, progress.loading, signal, replay);
    const { replayed } = journal;
    const checked = file.found.validated!;
    const authenticity = checkAuthenticity(checked, about.recordedChecksum, this.backups.signer, about.allowUnsigned);
    // Who can log in now that could not before: said in the job message and the audit entry.
    const accounts = await accountChanges(client);
    // Everybody logs in again: restored sessions included.
    const revoked = await client.query(`UPDATE "StaffSession" SET "revokedAt" = CURRENT_TIMESTAMP WHERE "revokedAt" IS NULL`);
    const actorStillExists = actorId !== null && (await manager.countBy(User, { id: actorId })) > 0;
    await this.audit.record(
      {
        actorUserId: actorStillExists ? actorId : null,
        action: 'SYSTEM_RESTORED',
        entityName: 'Backup',
        entityId: source.kind === 'stored' ? source.record.id : `upload:${source.upload.filename}`,
        metadata: {
          jobId: about.jobId,
          restoredBy: actorId,
          recordCounts: checked.recordCounts,
          checksum: checked.checksum,
          safetyBackupId: about.safetyId,
          removed: loaded.removed,
          accounts,
          signature: authenticity,
          ...(replayed && source.kind === 'stored' ? { pointInTime: { at: source.pointInTime!.at.toISOString(), transactions: replayed.transactions, changes: replayed.changes } } : {}),
        },
        ipAddress: about.meta.ipAddress,
        userAgent: about.meta.userAgent,
      },
      manager,
    );
    return { loaded, tables: file.plan.replaced.length, sessionsRevoked: revoked.rowCount ?? 0, accounts, authenticity, replayed };
  }

  /** The journal on top of the loaded base, in the same transaction. */
  private replay(tx: RestoreTransaction, plan: PointInTimePlan, replaced: readonly string[], signal: AbortSignal): Promise<ReplayResult> {
    return replayJournal(tx.client, this.replayOptions(plan, replaced, signal));
  }

  private replayOptions(plan: PointInTimePlan, tables: readonly string[], signal: AbortSignal): ReplayOptions {
    const journal = this.requireJournal();
    return {
      snapshot: plan.base.snapshot!,
      at: plan.at,
      segments: plan.segments.map((segment) => ({ name: `${segment.chain}#${segment.sequence}`, open: () => journal.openSegment(segment) })),
      tables: new Set(tables),
      signer: this.backups.signer,
      signal,
      maxLineBytes: this.readLimits.maxLineBytes,
    };
  }
}

interface Restored {
  loaded: LoadResult;
  tables: number;
  sessionsRevoked: number;
  accounts: AccountChanges;
  authenticity: Authenticity;
  replayed: ReplayResult | null;
}

function restoredMessage(restored: Restored, source: RestoreSource, safetyId: string): string {
  const { loaded, accounts, authenticity } = restored;
  const removed = Object.entries(loaded.removed).map(([t, n]) => `${n} ${t} rows whose parent the backup lacks`);
  const from = source.kind === 'stored' ? `backup ${source.record.id}` : `uploaded file ${source.upload.filename}`;
  const replayed = restored.replayed && source.kind === 'stored' ? restored.replayed : null;
  const changes = replayed ? Object.values(replayed.changes).reduce((a, b) => a + b, 0) : 0;
  return (
    `Restored ${loaded.rows} rows into ${restored.tables} tables from ${from}` +
    (replayed ? ` and replayed ${replayed.transactions} journal transactions (${changes} changes) up to ${source.kind === 'stored' ? source.pointInTime!.at.toISOString() : ''}` : '') +
    `; safety backup ${safetyId}; ` +
    `${restored.sessionsRevoked} sessions logged out` +
    (removed.length ? `; removed ${removed.join(', ')}` : '') +
    (describeAccountChanges(accounts) ? `; ${describeAccountChanges(accounts)}` : '') +
    (describeAuthenticity(authenticity) ? `; ${describeAuthenticity(authenticity)}` : '')
  );
}
