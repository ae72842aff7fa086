import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { BackupFormatError, readBackup, type BackupReadLimits } from '../backup/format/backup-reader';
import type { BackupRecord } from '../backup/records/backup-record';
import type { BackupService } from '../backup/backup.service';
import { BackupStatus } from '../backup/backup.enums';
import { DecryptionError } from '../crypto/encryption';
import { newId } from '../db/ids';
import { query, quoteIdent as q } from '../db/sql';
import { ConflictError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobRun, JobRunner } from '../jobs/job-runner';
import type { VerificationCheck, VerificationReport } from '../jobs/verification-report.type';
import { toKilnError } from '../errors/to-kiln-error';
import { stageRows } from '../restore/table-loader';
import { TableDigest, tableDigestSql } from './table-digest';

/**
 * Checks a stored backup without touching live data: present, right size,
 * readable, checksum, counts; with a drill, also loads it into a scratch
 * schema and compares every table with the file.
 */
export class VerifyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly runner: JobRunner,
    private readonly backups: BackupService,
    /** The reader's bounds (MAX_BACKUP_LINE_BYTES, MAX_GZIP_EXPANSION): a file past one fails "reads and decompresses". */
    private readonly readLimits: BackupReadLimits = {},
  ) {}

  async verify(id: string, restoreDrill: boolean, actorId: string): Promise<Job> {
    const record = await this.backups.require(id);
    if (record.status !== BackupStatus.COMPLETED) {
      throw new ConflictError(`Backup ${id} is ${record.status}: only a completed backup can be verified`, { status: record.status });
    }
    return this.runner.start({
      kind: JobKind.VERIFY,
      backupId: record.id,
      requestedById: actorId,
      input: { backupId: record.id, restoreDrill },
      run: (run) => this.run(record, restoreDrill, run),
    });
  }

  /**
   * The scheduled restore drill: a DRILL job that verifies the newest completed backup with a
   * restore into a scratch schema. Without a completed backup the job fails, so the miss is kept.
   */
  async scheduledDrill(): Promise<Job> {
    const { items } = await this.backups.list({ status: BackupStatus.COMPLETED }, 1, 0);
    const record = items[0];
    return this.runner.start({
      kind: JobKind.DRILL,
      backupId: record?.id,
      requestedById: null,
      input: { backupId: record?.id ?? null, restoreDrill: true },
      run: (run) => {
        if (!record) throw new ConflictError('There is no completed backup to drill: take one (createBackup, or a backup schedule)');
        return this.run(record, true, run);
      },
    });
  }

  private async run(record: BackupRecord, drill: boolean, run: JobRun): Promise<{ message: string; verification: VerificationReport }> {
    const { progress, signal } = run;
    const checks: VerificationCheck[] = [];
    const check = (name: string, ok: boolean, detail: string | null = null) => checks.push({ name, ok, detail });
    const total = Object.values(record.recordCounts ?? {}).reduce((a, b) => a + b, 0);
    progress.update({ phase: 'validate', rowsTotal: drill ? total * 2 : total });

    const copies = await this.backups.storedCopies(record);
    for (const copy of copies) {
      check(`present in ${copy.location} storage`, copy.bytes !== null, copy.bytes !== null ? null : `no ${copy.location.toLowerCase()} copy of ${record.filename}`);
      if (copy.bytes !== null) {
        check(`${copy.location} size matches the record`, copy.bytes === copy.expected, `${copy.bytes} bytes stored, ${copy.expected} recorded`);
      }
    }
    const stored = copies.some((c) => c.bytes !== null);

    const digests = new Map<string, TableDigest>();
    let appFormat = false;
    if (stored) {
      try {
        let table = '';
        let rows = 0;
        for await (const event of readBackup(await this.backups.openFile(record), this.readLimits)) {
          signal.throwIfAborted();
          if (event.kind === 'header') appFormat = event.format === 'app-1.0';
          else if (event.kind === 'table') digests.set((table = event.name), new TableDigest());
          else if (event.kind === 'row') {
            digests.get(table)!.add(event.json);
            if (++rows % 10_000 === 0) progress.update({ table, rowsDone: rows });
          } else if (event.kind === 'end') {
            check('reads and decompresses', true);
            const intact = event.checksum === event.computedChecksum;
            check('checksum matches the data', intact, intact ? null : `file says ${event.checksum}, data hashes to ${event.computedChecksum}`);
            // The app records no checksum of its own files: the file's own (checked above) is all there is.
            if (record.checksum !== null) {
              check('checksum matches the record', event.checksum === record.checksum, event.checksum === record.checksum ? null : `file ${event.checksum}, record ${record.checksum}`);
            }
            // An app row may hold no counts (the column is nullable): nothing to compare then.
            if (record.recordCounts !== null) {
              const same = sameCounts(event.recordCounts, record.recordCounts);
              check('record counts match', same, same ? null : `file ${JSON.stringify(event.recordCounts)}, record ${JSON.stringify(record.recordCounts)}`);
            }
          }
        }
        progress.update({ rowsDone: rows, table: null });
      } catch (err) {
        if (signal.aborted || !(err instanceof BackupFormatError || err instanceof DecryptionError || (err as NodeJS.ErrnoException).code)) throw err;
        // An errno's code, never its message (it may name paths or hosts).
        check('reads and decompresses', false, toKilnError(err)?.message ?? `the file cannot be read (${String((err as NodeJS.ErrnoException).code)})`);
      }
    }

    if (drill && checks.every((c) => c.ok)) {
      progress.update({ phase: 'drill' });
      await this.drill(record, digests, appFormat, check, (rows, table) => progress.update({ table, rowsDone: total + rows }), signal);
    }
    const report = { ok: checks.every((c) => c.ok), checks };
    if (report.ok) await this.backups.markVerified(record.id);
    const failed = checks.filter((c) => !c.ok).length;
    return { message: failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`, verification: report };
  }

  /** Restores the file into a scratch schema, compares each table with the file, drops the schema. */
  private async drill(
    record: BackupRecord,
    digests: Map<string, TableDigest>,
    appFormat: boolean,
    check: (name: string, ok: boolean, detail?: string | null) => void,
    onRows: (rows: number, table: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const schema = `kiln_drill_${newId()}`;
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      await query(runner, `CREATE SCHEMA ${q(schema)}`);
      for (const table of digests.keys()) {
        await query(runner, `CREATE TABLE ${q(schema)}.${q(table)} (LIKE ${q(table)} INCLUDING DEFAULTS INCLUDING INDEXES)`);
      }
      try {
        await stageRows(client, await this.backups.openFile(record), (t) => `${q(schema)}.${q(t)}`, onRows, signal, this.readLimits);
        check('restore drill: loads into a scratch schema', true);
      } catch (err) {
        if (signal.aborted) throw err;
        check('restore drill: loads into a scratch schema', false, (err as Error).message);
        return;
      }
      for (const [table, digest] of digests) {
        const [loaded] = await query<{ rows: string; digest: string }>(runner, tableDigestSql(`${q(schema)}.${q(table)}`));
        // An app format 1.0 row is Prisma's text (ISO dates with Z, decimals as strings), not row_to_json's:
        // its values are checked by loading them; the tables are compared by their row counts.
        const same = Number(loaded.rows) === digest.rows && (appFormat || loaded.digest === digest.value);
        check(`restore drill: ${table}`, same, same ? `${digest.rows} rows` : `${loaded.rows} rows loaded, ${digest.rows} in the file; digests ${same ? 'match' : 'differ'}`);
      }
    } finally {
      await query(runner, `DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`).catch(() => undefined);
      await runner.release();
    }
  }
}

/** Equal counts per table, whatever the key order (jsonb reorders keys); a table with no rows may be left out on either side. */
function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}
