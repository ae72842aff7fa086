/**
 * `npm run bench`: Kiln's backup against pg_dump (issue #3), Kiln's restore against pg_restore
 * (issue #4), cloud uploads (issue #5), scheduled fire times (issue #6) and the restore of the lending app's own
 * format 1.0 files against Kiln's own format (appformat), an admin's query during a login flood (loginflood,
 * issue #10) and the console's bundle and first render in Chromium (console, issue #11) and the command line's
 * file restore and SQL export against pg_restore and pg_dump's plain format + psql (cli, issue #12) and the /metrics scrape with 10,000 backup records (metrics, issue #13) and an admin's query while a backup and a restore run (joblatency, issue #14) and the change journal's throughput, lag, added write latency and a restore to an instant against a plain restore (journal, issue 15), on the same server in the same run.
 * Targets live here, never in timed tests. Every figure is reported next to a reference
 * measured in this run. Exits 0 whether targets are met or missed: a bench reports, it does not gate.
 */
import 'reflect-metadata';
import '../src/config/utc';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureBackup } from './backup.measure';
import { prepareDatabase, type BenchDatabase } from './bench-databases';
import { printReport, type BenchContext, type Measurement, type ReportLine } from './bench-report';
import { pickServer } from './bench-server';
import { measureRestore } from './restore.measure';
import { measureCloud } from './cloud.measure';
import { measureSchedule } from './schedule.measure';
import { measureAppFormat } from './appformat.measure';
import { measureLoginFlood } from './login-flood.measure';
import { measureConsole } from './console.measure';
import { measureCli } from './cli.measure';
import { measureMetrics } from './metrics.measure';
import { measureJobLatency } from './job-latency.measure';
import { measureJournal } from './journal.measure';

// ~29.7 rows a member: 34,000 members make just over 1,000,000 rows.
const FULL_MEMBERS = 34_000;
// In this order: the restore's pg_restore reference restores the backup measurement's pg_dump file
// (without it, the restore measurement dumps again). BENCH_ONLY=restore (or backup) runs one of them.
const MEASUREMENTS: Record<string, Measurement> = { backup: measureBackup, restore: measureRestore, cloud: measureCloud, schedule: measureSchedule, appformat: measureAppFormat, loginflood: measureLoginFlood, console: measureConsole, cli: measureCli, metrics: measureMetrics, joblatency: measureJobLatency, journal: measureJournal };
/** Measurements that bring their own data: without the others, the big databases are not prepared. */
const OWN_DATA = new Set(['cloud', 'schedule', 'appformat', 'loginflood', 'console', 'metrics', 'joblatency', 'journal']);

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((m) => m.trim());
  const unknown = only?.filter((m) => !Object.hasOwn(MEASUREMENTS, m));
  if (unknown?.length) throw new Error(`BENCH_ONLY names unknown measurements: ${unknown.join(', ')} (known: ${Object.keys(MEASUREMENTS).join(', ')})`);
  const names = Object.keys(MEASUREMENTS).filter((name) => !only || only.includes(name));
  const selected = names.map((name) => MEASUREMENTS[name]);
  const needsDatabases = names.some((name) => !OWN_DATA.has(name));
  const server = await pickServer(process.env.BENCH_DATABASE_URL);
  const workDir = await mkdtemp(path.join(tmpdir(), 'kiln-bench-'));
  try {
    console.log(`server: PostgreSQL ${server.version} (${server.label})`);
    if (server.pgDumpSkipped) console.log(`pg_dump reference SKIPPED: ${server.pgDumpSkipped}`);
    if (server.pgRestoreSkipped) console.log(`pg_restore reference SKIPPED: ${server.pgRestoreSkipped}`);
    const ctx: BenchContext = { server, workDir, full: notPrepared('kiln_bench_full'), tenth: notPrepared('kiln_bench_tenth') };
    if (needsDatabases) {
      ctx.full = await prepareDatabase(server.url, 'kiln_bench_full', FULL_MEMBERS);
      ctx.tenth = await prepareDatabase(server.url, 'kiln_bench_tenth', FULL_MEMBERS / 10);
      console.log(`databases: kiln_bench_full ${ctx.full.rows} rows, kiln_bench_tenth ${ctx.tenth.rows} rows`);
    }
    const lines: ReportLine[] = [];
    for (const measure of selected) lines.push(...(await measure(ctx)));
    printReport(lines);
  } finally {
    await rm(workDir, { recursive: true, force: true });
    await server.stop();
  }
}

/** Stands in for a database the selected measurements do not use; touching it is a bug. */
function notPrepared(name: string): BenchDatabase {
  return new Proxy({} as BenchDatabase, {
    get: () => {
      throw new Error(`${name} was not prepared for this BENCH_ONLY selection`);
    },
  });
}

main().catch((err: unknown) => {
  console.error('bench failed:', err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
