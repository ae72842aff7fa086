import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { tablesToBackUp } from '../src/backup/backup-tables';
import { createDataSource } from '../src/db/data-source';
import { migrateDatabase } from '../src/db/migrate';
import { kilnBackup, pgDump } from './backup.measure';
import { BENCH_USER_AGENT } from './bench-child';
import { fingerprint, fingerprintDifferences, withDatabase } from './bench-databases';
import { count, mb, ratio, seconds, verdict, type BenchContext, type ReportLine } from './bench-report';
import { withClient } from './restore.measure';

const CLI = path.join(__dirname, '..', 'src', 'cli', 'kiln.js');
// The same target as the gateway's restore against pg_restore: the file restore is that restore, in the CLI's process.
const RESTORE_RATIO_LIMIT = 2;
const TABLES = tablesToBackUp({ includeAuditLogs: true, includeSessions: true });
// What `kiln file restore` writes besides the backup's rows: its audit entries and the sessions it revokes.
const FILE_RESTORE_USER_AGENT = 'kiln file restore';
const run = promisify(execFile);

/**
 * The disaster-recovery path of issue #12, on the full database (~1,000,000 rows), each into its own
 * fresh database on the bench server: `kiln file restore` of a Kiln backup against `pg_restore
 * --data-only` of pg_dump's archive of the same tables; `kiln file export-sql` + psql against
 * pg_dump's plain format + psql. Every load must leave exactly the seeded content. The CLI is the
 * built dist/src/cli/kiln.js, run as an admin runs it; times are wall clock, Node's start included.
 */
export async function measureCli(ctx: BenchContext): Promise<ReportLine[]> {
  const dir = await mkdtemp(path.join(ctx.workDir, 'cli-'));
  const signingKey = randomBytes(32).toString('hex');
  await kilnBackup(ctx.full, dir, { BACKUP_SIGNING_KEY: signingKey });
  // The backup child's audit entry is not the seed's: gone from the source before pg_dump reads it.
  await withClient(ctx.full.url, (c) => c.query(`DELETE FROM "AuditLog" WHERE "userAgent" = $1`, [BENCH_USER_AGENT]));
  const [name] = (await readdir(path.join(dir, 'backups'))).filter((f) => f.startsWith('kiln-backup-'));
  const file = path.join(dir, 'backups', name);
  const openSessions = await withClient(ctx.full.url, async (c) => (await c.query<{ id: string }>(`SELECT id FROM "StaffSession" WHERE "revokedAt" IS NULL`)).rows.map((r) => r.id));
  const cliEnv = { PATH: process.env.PATH, BACKUP_SIGNING_KEY: signingKey };
  const made: string[] = [];
  const target = async (label: string, schema: boolean) => {
    const url = await freshDatabase(ctx.server.url, `kiln_bench_cli_${label}`, schema);
    made.push(url);
    return url;
  };
  const sameAsSeed = async (url: string) => {
    // The restore's own entries and revocations undone; a backup taken mid-run may hold the bench's entry.
    await withClient(url, async (c) => {
      await c.query(`DELETE FROM "AuditLog" WHERE "userAgent" IN ($1, $2)`, [BENCH_USER_AGENT, FILE_RESTORE_USER_AGENT]);
      await c.query(`UPDATE "StaffSession" SET "revokedAt" = NULL WHERE id = ANY($1) AND "revokedAt" IS NOT NULL`, [openSessions]);
    });
    return fingerprintDifferences(ctx.full.seeded, await fingerprint(url));
  };

  try {
    // Into a database with nothing in it: the CLI creates the lending schema and Kiln's tables first.
    const restoreUrl = await target('restore', false);
    const restore = await timed(() => run(process.execPath, [CLI, 'file', 'restore', file, '--database-url', restoreUrl, '--yes', '--safety-dir', path.join(dir, 'safety')], { env: cliEnv, maxBuffer: 64 * 1024 * 1024 }));
    const restoreDiff = await sameAsSeed(restoreUrl);
    // One read of the whole file, for scale: the restore makes its checks as it loads (one pass).
    const verify = await timed(() => run(process.execPath, [CLI, 'file', 'verify', file], { env: cliEnv }));

    const exported = path.join(dir, 'export.sql');
    const exportSql = await timed(() => run(process.execPath, [CLI, 'file', 'export-sql', file, '-o', exported], { env: cliEnv }));
    const sqlUrl = await target('sql', true);
    const sqlLoad = await timed(() => psql(sqlUrl, exported));
    const sqlDiff = await sameAsSeed(sqlUrl);

    const lines: ReportLine[] = [
      { metric: 'cli: file restore seconds (into an empty database)', value: seconds(restore.seconds), target: `${count(ctx.full.rows)} rows; creates the schema, validates, loads` },
      { metric: 'cli: kiln file verify seconds (same file)', value: seconds(verify.seconds), target: 'one read of the file; the restore checks as it loads' },
      { metric: 'cli: content after file restore = seed', value: same(restoreDiff), target: 'count + digest, 19 tables', verdict: verdict(restoreDiff.length === 0) },
      { metric: 'cli: export-sql seconds', value: seconds(exportSql.seconds), target: `${mb((await stat(exported)).size)} of SQL` },
      { metric: 'cli: psql load of the export seconds', value: seconds(sqlLoad.seconds), target: 'ON_ERROR_STOP, into the empty schema' },
      { metric: 'cli: content after export-sql + psql = seed', value: same(sqlDiff), target: 'count + digest, 19 tables', verdict: verdict(sqlDiff.length === 0) },
    ];

    if (ctx.server.pgRestoreSkipped || ctx.server.pgDumpSkipped) {
      const why = ctx.server.pgDumpSkipped ?? ctx.server.pgRestoreSkipped;
      lines.push(
        { metric: 'cli: time ratio file restore/pg_restore', value: 'n/a', target: why, verdict: 'skipped' },
        { metric: 'cli: time ratio export-sql + psql/pg_dump plain + psql', value: 'n/a', target: why, verdict: 'skipped' },
      );
      return lines;
    }
    const archive = ctx.fullDump ?? (await pgDump(ctx.full.url, dir)).file;
    const pgRestoreUrl = await target('pgrestore', true);
    const pgRestore = await timed(() => run('pg_restore', ['--data-only', '--disable-triggers', '-d', pgRestoreUrl, archive], { maxBuffer: 16 * 1024 * 1024 }));
    const pgRestoreDiff = await sameAsSeed(pgRestoreUrl);

    const plain = path.join(dir, 'plain.sql');
    const plainDump = await timed(() => run('pg_dump', ['--data-only', '-Fp', '-f', plain, ...TABLES.flatMap((t) => ['-t', `"${t}"`]), '-d', ctx.full.url]));
    const plainUrl = await target('plain', true);
    const plainLoad = await timed(() => psql(plainUrl, plain));
    const plainDiff = await sameAsSeed(plainUrl);

    const restoreRatio = restore.seconds / pgRestore.seconds;
    const sqlSeconds = exportSql.seconds + sqlLoad.seconds;
    const plainSeconds = plainDump.seconds + plainLoad.seconds;
    lines.push(
      { metric: 'cli: pg_restore seconds (same rows)', value: seconds(pgRestore.seconds), target: '--data-only into the empty schema' },
      { metric: 'cli: content after pg_restore = seed', value: same(pgRestoreDiff), target: 'count + digest, 19 tables', verdict: verdict(pgRestoreDiff.length === 0) },
      { metric: 'cli: time ratio file restore/pg_restore', value: ratio(restoreRatio), target: `<= ${RESTORE_RATIO_LIMIT}x`, verdict: verdict(restoreRatio <= RESTORE_RATIO_LIMIT) },
      { metric: 'cli: pg_dump plain seconds', value: seconds(plainDump.seconds), target: `${mb((await stat(plain)).size)} of SQL (COPY)` },
      { metric: 'cli: psql load of pg_dump plain seconds', value: seconds(plainLoad.seconds) },
      { metric: 'cli: content after pg_dump plain + psql = seed', value: same(plainDiff), target: 'count + digest, 19 tables', verdict: verdict(plainDiff.length === 0) },
      { metric: 'cli: export-sql + psql seconds', value: seconds(sqlSeconds), target: `pg_dump plain + psql ${seconds(plainSeconds)}` },
      { metric: 'cli: time ratio export-sql + psql/pg_dump plain + psql', value: ratio(sqlSeconds / plainSeconds), target: 'reported (INSERT … SELECT against COPY)' },
      { metric: 'cli: time ratio psql loads, export/pg_dump plain', value: ratio(sqlLoad.seconds / plainLoad.seconds) },
    );
    return lines;
  } finally {
    for (const url of made) await dropDatabase(ctx.server.url, new URL(url).pathname.slice(1));
  }
}

const same = (differences: string[]): string => (differences.length ? `differs: ${differences.join(', ')}` : 'equal');

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { seconds: (performance.now() - started) / 1000, result };
}

/** psql as a runbook runs it: stop at the first error, no ~/.psqlrc. */
function psql(url: string, file: string) {
  return run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file], { maxBuffer: 64 * 1024 * 1024 });
}

/** A new, empty database `name` on the server; with `schema`, holding the lending schema (as the bench's seed makes it) and no rows. */
async function freshDatabase(serverUrl: string, name: string, schema: boolean): Promise<string> {
  await dropDatabase(serverUrl, name);
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = withDatabase(serverUrl, name);
  if (schema) {
    const dataSource = createDataSource(url, 1);
    await dataSource.initialize();
    await migrateDatabase(dataSource, 'kiln').finally(() => dataSource.destroy());
  }
  return url;
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (c: Client) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
