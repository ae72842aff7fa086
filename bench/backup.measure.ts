import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { tablesToBackUp } from '../src/backup/backup-tables';
import type { BackupChildResult } from './backup-child';
import { kilnEnv, runChild } from './bench-child';
import type { BenchDatabase } from './bench-databases';
import { count, mb, ratio, seconds, verdict, type BenchContext, type ReportLine } from './bench-report';

type KilnBackup = Extract<BackupChildResult, { ok: true }>;

const RSS_LIMIT_BYTES = 200e6;
// Issue 14: no slower than pg_dump -Fc of the same tables (issue 3 had allowed 1.5x).
const TIME_RATIO_LIMIT = 1;
const RSS_SPREAD_LIMIT = 0.2;
// Every lending table: the bench backup includes audit logs and sessions.
const TABLES = tablesToBackUp({ includeAuditLogs: true, includeSessions: true });

/** Kiln's backup against pg_dump of the same tables, and Kiln's peak RSS at two sizes. */
export async function measureBackup(ctx: BenchContext): Promise<ReportLine[]> {
  const tenth = await kilnBackup(ctx.tenth);
  const full = await kilnBackup(ctx.full);
  // The same backup read by one session, as before BACKUP_READ_SESSIONS: what the second session gives.
  const oneSession = await kilnBackup(ctx.full, undefined, { BACKUP_READ_SESSIONS: '1' });
  const dump = ctx.server.pgDumpSkipped ? undefined : await pgDump(ctx.full.url, ctx.workDir);
  // Kept for the restore measurement's pg_restore reference: it restores what this pg_dump wrote.
  if (dump) ctx.fullDump = dump.file;

  const rss = { full: full.maxRssKb * 1024, tenth: tenth.maxRssKb * 1024 };
  const rssRatio = rss.full / rss.tenth;
  const rowsOk = full.rows === ctx.full.rows && tenth.rows === ctx.tenth.rows;
  const lines: ReportLine[] = [
    { metric: 'rows backed up (full / tenth)', value: `${count(full.rows)} / ${count(tenth.rows)}`, target: '= count(*)', verdict: verdict(rowsOk) },
    { metric: 'Kiln bytes', value: `${mb(full.bytes)}${full.compressed ? ' gz' : ''}` },
    { metric: 'Kiln seconds', value: seconds(full.seconds), target: `CPU ${seconds(full.cpuSeconds)}` },
    { metric: 'Kiln seconds at one tenth', value: seconds(tenth.seconds), target: `CPU ${seconds(tenth.cpuSeconds)}` },
    { metric: 'Kiln seconds, one reading session', value: seconds(oneSession.seconds), target: `BACKUP_READ_SESSIONS=1; two sessions take ${ratio(full.seconds / oneSession.seconds)} of it` },
  ];
  if (dump) {
    const timeRatio = full.seconds / dump.seconds;
    lines.push(
      { metric: 'pg_dump bytes', value: mb(dump.bytes), target: `Kiln/pg_dump ${ratio(full.bytes / dump.bytes)}` },
      { metric: 'pg_dump seconds', value: seconds(dump.seconds) },
      { metric: 'time ratio Kiln/pg_dump', value: ratio(timeRatio), target: `<= ${TIME_RATIO_LIMIT}x`, verdict: verdict(timeRatio <= TIME_RATIO_LIMIT) },
    );
  } else {
    lines.push({ metric: 'time ratio Kiln/pg_dump', value: 'n/a', target: `<= ${TIME_RATIO_LIMIT}x`, verdict: 'skipped' });
  }
  lines.push(
    { metric: 'Kiln peak RSS, full', value: mb(rss.full), target: `< ${mb(RSS_LIMIT_BYTES)}`, verdict: verdict(rss.full < RSS_LIMIT_BYTES) },
    { metric: 'Kiln peak RSS, one tenth', value: mb(rss.tenth), target: `< ${mb(RSS_LIMIT_BYTES)}`, verdict: verdict(rss.tenth < RSS_LIMIT_BYTES) },
    { metric: 'Kiln RSS once started (full / tenth)', value: `${mb(full.startedRssKb * 1024)} / ${mb(tenth.startedRssKb * 1024)}` },
    { metric: 'RSS ratio full/tenth', value: ratio(rssRatio), target: 'within 20%', verdict: verdict(Math.abs(rssRatio - 1) <= RSS_SPREAD_LIMIT) },
  );
  return lines;
}

/**
 * Runs bench/backup-child.js against `db` (`env` added to its environment) and returns what it measured.
 * With `keepIn`, the backup file and its record stay, in `keepIn`/backups, for a restore child given the same folder.
 */
export async function kilnBackup(db: BenchDatabase, keepIn?: string, env: Record<string, string> = {}): Promise<KilnBackup> {
  const dir = keepIn ?? (await mkdtemp(path.join(tmpdir(), 'kiln-bench-')));
  try {
    const result = await runChild<Omit<KilnBackup, 'ok'>>('backup-child.js', kilnEnv(db, dir, { ...env, ...(keepIn ? { BENCH_KEEP_BACKUP: '1' } : {}) }));
    if (!result.ok) throw new Error(`Kiln backup of ${db.name} failed: ${result.error}`);
    return result;
  } finally {
    if (!keepIn) await rm(dir, { recursive: true, force: true });
  }
}

/** `pg_dump --data-only -Fc` of the backup's tables into `dir`, timed by the wall clock. */
export async function pgDump(url: string, dir: string): Promise<{ seconds: number; bytes: number; file: string }> {
  const file = path.join(dir, `${new URL(url).pathname.slice(1)}.dump`);
  const args = ['--data-only', '-Fc', '-f', file, ...TABLES.flatMap((t) => ['-t', `"${t}"`]), '-d', url];
  const started = performance.now();
  await promisify(execFile)('pg_dump', args);
  const elapsed = (performance.now() - started) / 1000;
  return { seconds: elapsed, bytes: (await stat(file)).size, file };
}
