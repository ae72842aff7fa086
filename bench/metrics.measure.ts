import { performance } from 'node:perf_hooks';
import { prepareDatabase, startBenchGateway } from './bench-databases';
import { ratio, type BenchContext, type ReportLine } from './bench-report';
import { withClient } from './restore.measure';

const RECORDS = 10_000;
const SCRAPES = 100;
const METRICS_TOKEN = 'bench-metrics-token-0123456789';
const ADMIN = { email: 'bench-admin@kiln.local', password: 'bench-admin-password' };

/**
 * METRICS lines (issue #13): the time of a GET /metrics scrape on a gateway whose database holds
 * 10,000 backup records (and a job each), p50 and p95 over 100 sequential scrapes, against GET
 * /health/backups on the same gateway (the health evaluation, which the scrape includes).
 */
export async function measureMetrics(ctx: BenchContext): Promise<ReportLine[]> {
  const database = await prepareDatabase(ctx.server.url, 'kiln_bench_metrics', 200);
  const kiln = await startBenchGateway(ctx.workDir, database, ADMIN, { METRICS_TOKEN });
  try {
    await withClient(database.url, async (c) => {
      await c.query(`DELETE FROM kiln.kiln_backup_details WHERE id LIKE 'bench-m-%'`);
      await c.query(`DELETE FROM backup_records WHERE id LIKE 'bench-m-%'`);
      await c.query(`DELETE FROM kiln.kiln_jobs WHERE id LIKE 'bench-mj-%'`);
      // A mix of the app's and Kiln's values: types, statuses, locations, some cloud failures.
      await c.query(
        `INSERT INTO backup_records (id, filename, "fileSize", location, type, status, "createdAt")
         SELECT 'bench-m-' || g, 'kiln-backup-' || g || '.json.gz', 1000000 + g, (ARRAY['local', 'cloud', 'both'])[1 + g % 3],
                (ARRAY['manual', 'scheduled'])[1 + g % 2], CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'completed' END, now() - g * interval '1 hour'
           FROM generate_series(1, $1) g`,
        [RECORDS],
      );
      await c.query(
        `INSERT INTO kiln.kiln_backup_details (id, kind, "fileSize", compressed, "storedLocally", "storedInCloud", "cloudError", "completedAt", "jobId")
         SELECT 'bench-m-' || g, (ARRAY['MANUAL', 'SCHEDULED'])[1 + g % 2], 1000000 + g, true, g % 3 <> 1, g % 3 <> 0,
                CASE WHEN g % 50 = 0 THEN 'timeout' END, now() - g * interval '1 hour' + interval '20 seconds', 'bench-mj-' || g
           FROM generate_series(1, $1) g`,
        [RECORDS],
      );
      await c.query(
        `INSERT INTO kiln.kiln_jobs (id, kind, status, "backupId", "createdAt", "startedAt", "finishedAt")
         SELECT 'bench-mj-' || g, 'BACKUP', CASE WHEN g % 20 = 0 THEN 'FAILED' ELSE 'COMPLETED' END, 'bench-m-' || g,
                now() - g * interval '1 hour', now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '20 seconds'
           FROM generate_series(1, $1) g`,
        [RECORDS],
      );
      await c.query('ANALYZE backup_records, kiln.kiln_backup_details, kiln.kiln_jobs');
    });
    const metrics = await timings(`${kiln.url}/metrics`, { authorization: `Bearer ${METRICS_TOKEN}` });
    const health = await timings(`${kiln.url}/health/backups`, {});
    return [
      { metric: 'metrics: GET /metrics p50 / p95', value: `${ms(metrics.p50)} / ${ms(metrics.p95)}`, target: `${RECORDS.toLocaleString('en')} backup records, ${SCRAPES} sequential scrapes; ${metrics.bytes} bytes` },
      { metric: 'metrics: GET /health/backups p50 / p95', value: `${ms(health.p50)} / ${ms(health.p95)}`, target: 'the same gateway and database' },
      { metric: 'metrics: scrape / health p50', value: ratio(metrics.p50 / health.p50), target: 'reported' },
    ];
  } finally {
    await withClient(database.url, async (c) => {
      await c.query(`DELETE FROM kiln.kiln_backup_details WHERE id LIKE 'bench-m-%'`);
      await c.query(`DELETE FROM backup_records WHERE id LIKE 'bench-m-%'`);
      await c.query(`DELETE FROM kiln.kiln_jobs WHERE id LIKE 'bench-mj-%'`);
    });
    kiln.child.kill('SIGTERM');
    await kiln.exited;
  }
}

async function timings(url: string, headers: Record<string, string>): Promise<{ p50: number; p95: number; bytes: number }> {
  let bytes = 0;
  for (let i = 0; i < 5; i++) await (await fetch(url, { headers })).text();
  const times: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const started = performance.now();
    const res = await fetch(url, { headers });
    bytes = (await res.text()).length;
    // 503 is an unhealthy verdict, not a failure of the route.
    if (res.status !== 200 && res.status !== 503) throw new Error(`${url} answered ${res.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(SCRAPES * 0.5)], p95: times[Math.floor(SCRAPES * 0.95)], bytes };
}

const ms = (v: number) => `${v.toFixed(1)} ms`;
