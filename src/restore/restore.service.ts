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
import { BackupType } from '../backup/backup.enums';
import type { BackupService } from '../backup/backup.service';
import { LENDING_TABLES, User } from '../domain';
import { SignatureCheck } from '../backup/format/backup-signature';
import type { BackupFileReport } from './backup-file-report.type';
import { BadUserInputError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobRun, JobRunner } from '../jobs/job-runner';
import type { MaintenanceService } from '../system/maintenance.service';
import { checkAuthenticity, describeAuthenticity, type Authenticity } from './backup-authenticity';
import { validateBackupFile } from './backup-validator';
import { SessionReader } from '../auth/session-reader';
import { readLendingCatalog } from './lending-catalog';
import { accountChanges, describeAccountChanges, rememberAccounts } from './account-changes';
import { loadBackupInTransaction } from './table-loader';
import { receiveUpload, type ReceivedUpload, type UploadLimits } from './upload-receiver';

type RestoreSource = { kind: 'stored'; record: BackupRecord } | { kind: 'upload'; upload: ReceivedUpload };

// A restore reads its file twice: the validation pass, then the load.
const READ_PASSES = 2;

export interface RestoreOptions {
  /** Restore a file whose Kiln signature does not verify (see checkAuthenticity). */
  allowUnsigned?: boolean;
}

/**
 * Restores the lending data from a stored or uploaded backup: validate the
 * whole file, take a PRE_RESTORE safety backup, then replace the data in one
 * transaction and log everybody out. Only in maintenance mode.
 */
export class RestoreService {
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
        ...(options.allowUnsigned ? { allowUnsigned: true } : {}),
      },
      run: (run) =>
        this.run(source, run, actorId, meta, options.allowUnsigned === true).finally(() => {
          if (source.kind === 'upload') source.upload.discard();
        }),
    });
  }

  private async run(source: RestoreSource, run: JobRun, actorId: string | null, meta: RequestMeta, allowUnsigned: boolean): Promise<{ message: string }> {
    const { progress, signal } = run;
    const open = (): Promise<Readable> =>
      source.kind === 'stored' ? this.backups.openFile(source.record) : this.backups.plain(source.upload.open());
    const catalog = await readLendingCatalog(this.dataSource.manager);

    // The validation pass (the file, Node's CPU) and the safety backup (the database) share
    // nothing, so the safety backup starts once the file has shown a valid start (its header and
    // 10,000 rows; a small file is validated first) and both run side by side. A file refused
    // later stops the safety backup, and nothing of it stays.
    progress.update({ phase: 'validate' });
    const stopSafety = new AbortController();
    let [validatedRows, safetyRows] = [0, 0];
    let safetyRun: Promise<BackupRecord> | undefined;
    const startSafety = () => {
      safetyRun = this.backups.backupWithin(
        {
          ...run,
          signal: AbortSignal.any([signal, stopSafety.signal]),
          progress: {
            update: (c) => {
              safetyRows = c.rowsDone ?? safetyRows;
              progress.update({ rowsDone: validatedRows + safetyRows });
            },
          },
        },
        BackupType.PRE_RESTORE,
        actorId,
      );
      safetyRun.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    };
    let checked: Awaited<ReturnType<typeof validateBackupFile>>;
    let authenticity: Authenticity;
    try {
      checked = await validateBackupFile(
        await open(),
        catalog,
        source.kind === 'stored' ? source.record.checksum : null,
        (rows) => {
          validatedRows = rows;
          if (!safetyRun) startSafety();
          progress.update({ rowsDone: validatedRows + safetyRows });
        },
        signal,
        this.readLimits,
      );
      authenticity = checkAuthenticity(checked, source.kind === 'stored' ? source.record.checksum : null, this.backups.signer, allowUnsigned);
    } catch (err) {
      if (safetyRun) {
        stopSafety.abort(err);
        await safetyRun.catch(() => undefined);
        await this.backups.discard(run.job.id, BackupType.PRE_RESTORE);
      }
      throw err;
    }
    if (!safetyRun) startSafety();
    // Three passes over the rows: validate, safety backup, restore.
    const total = checked.rows * 3;
    progress.update({ phase: 'safety', rowsTotal: total, rowsDone: checked.rows + Math.min(safetyRows, checked.rows) });
    const safety = await safetyRun!;

    progress.update({ phase: 'restore', rowsDone: checked.rows * 2 });
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as import('pg').PoolClient;
    try {
      // The load holds User and StaffSession locked until it commits: meanwhile the admin sessions
      // of now are checked from Kiln's copy, so admins can follow and cancel the restore.
      await SessionReader.holdDuringRestore(client, run.job.id);
      await runner.startTransaction();
      await rememberAccounts(client);
      const loaded = await loadBackupInTransaction(
        client,
        await open(),
        checked.plan,
        catalog,
        (rows, table) => progress.update({ table, rowsDone: checked.rows * 2 + rows }),
        signal,
        checked.checksum,
        this.readLimits,
      );
      // Who can log in now that could not before: said in the job message and the audit entry.
      const accounts = await accountChanges(client);
      // Everybody logs in again: restored sessions included.
      const revoked = await client.query(`UPDATE "StaffSession" SET "revokedAt" = CURRENT_TIMESTAMP WHERE "revokedAt" IS NULL`);
      const actorStillExists = actorId !== null && (await runner.manager.countBy(User, { id: actorId })) > 0;
      await this.audit.record(
        {
          actorUserId: actorStillExists ? actorId : null,
          action: 'SYSTEM_RESTORED',
          entityName: 'Backup',
          entityId: source.kind === 'stored' ? source.record.id : `upload:${source.upload.filename}`,
          metadata: {
            jobId: run.job.id,
            restoredBy: actorId,
            recordCounts: checked.recordCounts,
            checksum: checked.checksum,
            safetyBackupId: safety.id,
            removed: loaded.removed,
            accounts,
            signature: authenticity,
          },
          ipAddress: meta.ipAddress,
          userAgent: meta.userAgent,
        },
        runner.manager,
      );
      signal.throwIfAborted();
      await runner.commitTransaction();

      const removed = Object.entries(loaded.removed).map(([t, n]) => `${n} ${t} rows whose parent the backup lacks`);
      const from = source.kind === 'stored' ? `backup ${source.record.id}` : `uploaded file ${source.upload.filename}`;
      return {
        message:
          `Restored ${loaded.rows} rows into ${checked.plan.replaced.length} tables from ${from}; safety backup ${safety.id}; ` +
          `${revoked.rowCount ?? 0} sessions logged out` +
          (removed.length ? `; removed ${removed.join(', ')}` : '') +
          (describeAccountChanges(accounts) ? `; ${describeAccountChanges(accounts)}` : '') +
          (describeAuthenticity(authenticity) ? `; ${describeAuthenticity(authenticity)}` : ''),
      };
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await SessionReader.release(client, run.job.id).catch(() => undefined);
      await runner.release();
    }
  }
}
