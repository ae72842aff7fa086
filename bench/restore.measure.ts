import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { LENDING_TABLES } from '../src/domain';
import { kilnBackup, pgDump } from './backup.measure';
import { BENCH_USER_AGENT, kilnEnv, runChild } from './bench-child';
import { machineBusySeconds } from './machine-cpu';
import { fingerprint, fingerprintDifferences, type BenchDatabase } from './bench-databases';
import { count, mb, ratio, seconds, verdict, type BenchContext, type ReportLine } from './bench-report';
import type { RestoreChildResult } from './restore-child';

type RestoreChildFigures = Omit<Extract<RestoreChildResult, { ok: true }>, 'ok'>;
type KilnRestore = RestoreChildFigures & {
  /** Rows the job says it restored. */
  restoredRows: number | null;
  /** Tables whose content differs from the seed after the restore (and after undoing its side effects). */
  differences: string[];
  /** The restore's intended side effects, undone so the database is the seed again. */
  undone: { auditEntries: number; sessions: number; openSessions: number };
};

const RSS_LIMIT_BYTES = 200e6;
// Issue 14: every guarantee kept (checked, safety backup, one transaction) in no more time than pg_restore --data-only.
const TIME_RATIO_LIMIT = 1;
const RSS_SPREAD_LIMIT = 0.2;
/** API p99 while a restore runs (issue 14): the event loop's own delay is the floor of every request's latency. */
const LOOP_DELAY_P99_LIMIT_MS = 50;
const LENDING = LENDING_TABLES.map((t) => `"${t}"`).join(', ');

/**
 * Kiln's restore of a full backup against `pg_restore --data-only` of the pg_dump file into the
 * same, emptied tables (issue #4), and Kiln's peak RSS during a restore at two sizes. Both restores
 * must leave exactly the seeded content (compared by per-table count and content digest), else
 * the figures are not comparable; the database is left compacted and analysed for the next run.
 */
export async function measureRestore(ctx: BenchContext): Promise<ReportLine[]> {
  const tenth = await kilnRestore(ctx.tenth, ctx.workDir);
  await compact(ctx.tenth.url, true);
  const full = await kilnRestore(ctx.full, ctx.workDir);
  const skipped = ctx.server.pgRestoreSkipped ?? (ctx.fullDump || !ctx.server.pgDumpSkipped ? undefined : `no pg_dump file to restore (${ctx.server.pgDumpSkipped})`);
  // pg_restore starts from TRUNCATE, which leaves compact tables; without it Kiln's DELETE + INSERT leaves the full size twice over.
  const reference = skipped ? undefined : await pgRestore(ctx);
  await compact(ctx.full.url, !reference);
  if (skipped && !ctx.server.pgRestoreSkipped) console.log(`pg_restore reference SKIPPED: ${skipped}`);

  const rss = { full: full.maxRssKb * 1024, tenth: tenth.maxRssKb * 1024 };
  const rssRatio = rss.full / rss.tenth;
  const p = full.phases;
  const s = (v: number | null) => (v === null ? 'n/a' : seconds(v));
  const lines: ReportLine[] = [
    {
      metric: 'restore: rows restored (full / tenth)',
      value: `${count(full.restoredRows ?? NaN)} / ${count(tenth.restoredRows ?? NaN)}`,
      target: '= count(*)',
      verdict: verdict(full.restoredRows === ctx.full.rows && tenth.restoredRows === ctx.tenth.rows),
    },
    {
      metric: 'restore: content after Kiln = seed (full / tenth)',
      value: `${same(full.differences)} / ${same(tenth.differences)}`,
      target: 'count + digest, 19 tables',
      verdict: verdict(full.differences.length === 0 && tenth.differences.length === 0),
    },
    {
      metric: 'restore: side effects undone after Kiln (full)',
      value: `${full.undone.auditEntries} audit, ${count(full.undone.sessions)} sessions`,
      target: `bench audit entries; sessions revoked of ${count(full.undone.openSessions)} open`,
    },
    { metric: 'restore: Kiln seconds (whole job)', value: seconds(full.seconds), target: `CPU ${seconds(full.cpuSeconds)}` },
    { metric: 'restore:   header check', value: s(p.validate), target: 'rows are checked as they load (one pass)' },
    { metric: 'restore:   PRE_RESTORE safety backup', value: s(p.safety), target: p.overlapped ? 'side by side with validation' : undefined },
    { metric: 'restore:   restore phase alone', value: s(p.restore), target: 'load + after load + commit' },
    { metric: 'restore:     load (read file, load rows)', value: s(p.load), target: `loading statements ran ${s(p.loadStatements)}` },
    { metric: 'restore:     after load (indexes, keys, sessions, audit)', value: s(p.afterLoad) },
    { metric: 'restore:     commit', value: s(p.commit) },
    { metric: 'restore: Kiln seconds at one tenth', value: seconds(tenth.seconds), target: `CPU ${seconds(tenth.cpuSeconds)}` },
    {
      metric: 'restore: event loop delay p99 / max, full',
      value: `${full.loopDelayMs.p99.toFixed(1)} / ${full.loopDelayMs.max.toFixed(1)} ms`,
      target: `p99 < ${LOOP_DELAY_P99_LIMIT_MS} ms (the API waits behind it)`,
      verdict: verdict(full.loopDelayMs.p99 < LOOP_DELAY_P99_LIMIT_MS),
    },
  ];
  if (reference) {
    const timeRatio = full.seconds / reference.seconds;
    lines.push(
      { metric: 'restore: pg_restore seconds', value: seconds(reference.seconds), target: `after TRUNCATE of ${seconds(reference.truncateSeconds)}` },
      {
        metric: 'restore: content after pg_restore = seed',
        value: same(reference.differences),
        target: 'count + digest, 19 tables',
        verdict: verdict(reference.differences.length === 0),
      },
      { metric: 'restore: time ratio Kiln/pg_restore', value: ratio(timeRatio), target: `<= ${TIME_RATIO_LIMIT}x`, verdict: verdict(timeRatio <= TIME_RATIO_LIMIT) },
      { metric: 'restore: restore phase alone/pg_restore', value: p.restore === null ? 'n/a' : ratio(p.restore / reference.seconds), target: 'without validation, safety backup' },
    );
    // Why the ratio is what it is: the work both do, in core-seconds of the whole machine (Kiln or
    // pg_restore, and PostgreSQL). Work divided by the cores is the least time any schedule of it takes.
    const cpu = full.machineCpuByPhase;
    const kiln = full.kilnCpuByPhase;
    const cores = availableParallelism();
    if (cpu.job !== undefined && reference.machineCpu !== null) {
      const c = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(1));
      lines.push(
        {
          metric: 'restore: machine CPU, Kiln job',
          value: `${c(cpu.job)} core-s`,
          target: `safety ${c(cpu.safety)} / load ${c(cpu.load)} / after load ${c(cpu.afterLoad)}; Kiln + PostgreSQL`,
        },
        {
          metric: 'restore:   of it Kiln\'s own process',
          value: `${c(kiln.job)} core-s`,
          target: `safety ${c(kiln.safety)} / load ${c(kiln.load)} / after load ${c(kiln.afterLoad)}; the rest is PostgreSQL's`,
        },
        { metric: 'restore: machine CPU, pg_restore', value: `${c(reference.machineCpu)} core-s`, target: 'pg_restore + PostgreSQL' },
        {
          metric: `restore: Kiln's work spread on ${cores} cores/pg_restore`,
          value: ratio(cpu.job / cores / reference.seconds),
          target: `the least ratio any schedule of that work reaches here`,
        },
      );
    }
  } else {
    lines.push({ metric: 'restore: time ratio Kiln/pg_restore', value: 'n/a', target: `<= ${TIME_RATIO_LIMIT}x`, verdict: 'skipped' });
  }
  lines.push(
    { metric: 'restore: Kiln peak RSS, full', value: mb(rss.full), target: `< ${mb(RSS_LIMIT_BYTES)}`, verdict: verdict(rss.full < RSS_LIMIT_BYTES) },
    { metric: 'restore: Kiln peak RSS, one tenth', value: mb(rss.tenth), target: `< ${mb(RSS_LIMIT_BYTES)}`, verdict: verdict(rss.tenth < RSS_LIMIT_BYTES) },
    { metric: 'restore: RSS peak by phase, full', value: byPhase(full.rssKbByPhase), target: 'validate / safety / load / after load' },
    { metric: 'restore: RSS peak by phase, one tenth', value: byPhase(tenth.rssKbByPhase) },
    { metric: 'restore: RSS once started (full / tenth)', value: `${mb(full.startedRssKb * 1024)} / ${mb(tenth.startedRssKb * 1024)}` },
    { metric: 'restore: RSS ratio full/tenth', value: ratio(rssRatio), target: 'within 20%', verdict: verdict(Math.abs(rssRatio - 1) <= RSS_SPREAD_LIMIT) },
  );
  return lines;
}

const byPhase = (kb: RestoreChildFigures['rssKbByPhase']): string =>
  (['validate', 'safety', 'load', 'afterLoad'] as const).map((p) => (kb[p] === undefined ? 'n/a' : ((kb[p]! * 1024) / 1e6).toFixed(0))).join(' / ') + ' MB';

const same = (differences: string[]): string => (differences.length ? `differs: ${differences.join(', ')}` : 'equal');

/**
 * A Kiln backup of `db` (its own child, kept), then its restore in a second child; then the
 * restore's intended side effects are undone (SYSTEM_RESTORED and maintenance audit entries,
 * revoked sessions) and the content compared with the seed.
 */
async function kilnRestore(db: BenchDatabase, workDir: string): Promise<KilnRestore> {
  const dir = await mkdtemp(path.join(workDir, `restore-${db.name}-`));
  try {
    const openSessions = await withClient(db.url, async (c) => (await c.query<{ id: string }>(`SELECT id FROM "StaffSession" WHERE "revokedAt" IS NULL`)).rows.map((r) => r.id));
    const backup = await kilnBackup(db, dir);
    const result = await runChild<RestoreChildFigures>('restore-child.js', kilnEnv(db, dir, { BENCH_BACKUP_ID: backup.keptBackupId! }));
    const undone = await withClient(db.url, async (c) => {
      // Only entries with the bench's user agent: a restore puts every seeded entry back as it was.
      const audit = await c.query(`DELETE FROM "AuditLog" WHERE "userAgent" = $1`, [BENCH_USER_AGENT]);
      const sessions = await c.query(`UPDATE "StaffSession" SET "revokedAt" = NULL WHERE id = ANY($1) AND "revokedAt" IS NOT NULL`, [openSessions]);
      return { auditEntries: audit.rowCount ?? 0, sessions: sessions.rowCount ?? 0, openSessions: openSessions.length };
    });
    if (!result.ok) throw new Error(`Kiln restore of ${db.name} failed: ${result.error}`);
    const restored = /Restored (\d+) rows/.exec(result.message);
    return {
      ...result,
      restoredRows: restored ? Number(restored[1]) : null,
      differences: fingerprintDifferences(db.seeded, await fingerprint(db.url)),
      undone,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** TRUNCATE of every lending table, then `pg_restore --data-only --disable-triggers` of the full database's pg_dump file, timed by the wall clock. */
async function pgRestore(ctx: BenchContext): Promise<{ seconds: number; truncateSeconds: number; machineCpu: number | null; differences: string[] }> {
  const file = ctx.fullDump ?? (await pgDump(ctx.full.url, ctx.workDir)).file;
  const truncateStarted = performance.now();
  await withClient(ctx.full.url, (c) => c.query(`TRUNCATE ${LENDING}`));
  const truncateSeconds = (performance.now() - truncateStarted) / 1000;
  const started = performance.now();
  const busyBefore = machineBusySeconds();
  try {
    await promisify(execFile)('pg_restore', ['--data-only', '--disable-triggers', '-d', ctx.full.url, file], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    // The tables are empty or partly loaded now: the next run finds the content changed and seeds again.
    throw new Error(`pg_restore into ${ctx.full.name} failed (the next run seeds it again): ${(err as { stderr?: string }).stderr || (err as Error).message}`, { cause: err });
  }
  const elapsed = (performance.now() - started) / 1000;
  const busyAfter = machineBusySeconds();
  const machineCpu = busyBefore === null || busyAfter === null ? null : busyAfter - busyBefore;
  return { seconds: elapsed, truncateSeconds, machineCpu, differences: fingerprintDifferences(ctx.full.seeded, await fingerprint(ctx.full.url)) };
}

/**
 * Leaves the lending tables as the seed left them for the next run's backup measurement: without
 * dead rows (`full`: rewritten, after Kiln's DELETE + INSERT) and vacuumed and analysed.
 */
export async function compact(url: string, full: boolean): Promise<void> {
  await withClient(url, async (c) => {
    if (full) await c.query(`VACUUM (FULL) ${LENDING}`);
    await c.query(`VACUUM (ANALYZE) ${LENDING}`);
  });
}

export async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
