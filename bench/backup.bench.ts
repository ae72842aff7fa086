/**
 * `npm run bench`: Kiln's backup against pg_dump on the same server in the same run (issue #3).
 * Targets live here, never in timed tests. Every figure is reported next to a reference
 * measured in this run. Exits 0 whether targets are met or missed: a bench reports, it does not gate.
 */
import 'reflect-metadata';
import '../src/config/utc';
import { measureBackup } from './backup.measure';
import { prepareDatabase } from './bench-databases';
import { printReport, type BenchContext, type Measurement, type ReportLine } from './bench-report';
import { pickServer } from './bench-server';

// ~29.7 rows a member: 34,000 members make just over 1,000,000 rows.
const FULL_MEMBERS = 34_000;
const MEASUREMENTS: Measurement[] = [measureBackup];

async function main(): Promise<void> {
  const server = await pickServer(process.env.BENCH_DATABASE_URL);
  try {
    console.log(`server: PostgreSQL ${server.version} (${server.label})`);
    if (server.pgDumpSkipped) console.log(`pg_dump reference SKIPPED: ${server.pgDumpSkipped}`);
    const ctx: BenchContext = {
      server,
      full: await prepareDatabase(server.url, 'kiln_bench_full', FULL_MEMBERS),
      tenth: await prepareDatabase(server.url, 'kiln_bench_tenth', FULL_MEMBERS / 10),
    };
    console.log(`databases: kiln_bench_full ${ctx.full.rows} rows, kiln_bench_tenth ${ctx.tenth.rows} rows`);
    const lines: ReportLine[] = [];
    for (const measure of MEASUREMENTS) lines.push(...(await measure(ctx)));
    printReport(lines);
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error('bench failed:', err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
