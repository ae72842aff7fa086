import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KilnProcess } from '../test/support/kiln-process';
import { BENCH_ADMIN, ME, ms, percentiles, postGraphql } from './bench-gateway-client';
import { prepareDatabase, startBenchGateway } from './bench-databases';
import { ratio, verdict, type BenchContext, type ReportLine } from './bench-report';

// ~29.7 rows a member: about 200,000 rows, enough for a few seconds of backup and restore.
const MEMBERS = 6_800;
const IDLE_QUERIES = 500;
const TARGET_P99_MS = 50;
// One job of this size answers ~150 queries: a p99 of those is their second slowest. Jobs of a
// kind run one after another until this many queries were timed while they ran (or MAX_JOBS did).
const MIN_QUERIES_DURING_JOBS = 600;
const MAX_JOBS = 10;

/**
 * JOB LATENCY lines (issue #14): an admin's simple query, p50 and p99, sent one after another
 * while a backup runs and while a restore runs on the same gateway (its own process), against the
 * same query on the idle gateway, in one run. The target is absolute (p99 < 50 ms); the idle
 * figure is the reference.
 */
export async function measureJobLatency(ctx: BenchContext): Promise<ReportLine[]> {
  const database = await prepareDatabase(ctx.server.url, 'kiln_bench_joblatency', MEMBERS);
  const metricsToken = randomBytes(16).toString('hex');
  const kiln = await startBenchGateway(ctx.workDir, database, BENCH_ADMIN, { METRICS_TOKEN: metricsToken });
  const loopDelay = () => eventLoopDelay(kiln, metricsToken);
  try {
    const token = await login(kiln);
    const auth = { authorization: `Bearer ${token}` };
    await loopDelay();
    const idle = { ...percentiles(await timeQueries(kiln, auth, (n) => n < IDLE_QUERIES)), seconds: 0, loop: await loopDelay() };

    let backupJob = '';
    const duringBackup = {
      ...(await whileJobsRun(kiln, auth, async () => (backupJob = await startJob(kiln, auth, 'mutation { createBackup(input: { location: LOCAL }) { id } }', 'createBackup')))),
      loop: await loopDelay(),
    };
    const backupId = await backupOfJob(kiln, auth, backupJob);

    await gql(kiln, auth, 'mutation { setMaintenanceMode(enabled: true, reason: "bench") { enabled } }');
    await loopDelay();
    // A restore ends every session as it commits: each one after the first signs in again first.
    const restoreAuth = { ...auth };
    const duringRestore = {
      ...(await whileJobsRun(kiln, restoreAuth, async (n) => {
        if (n > 0) restoreAuth.authorization = `Bearer ${await login(kiln)}`;
        return startJob(kiln, restoreAuth, `mutation { restoreBackup(id: "${backupId}") { id } }`, 'restoreBackup');
      })),
      loop: await loopDelay(),
    };

    const loopLine = (name: string, loop: LoopDelay): ReportLine => ({
      metric: `gateway event loop delay p99 / max, ${name}`,
      value: `${ms(loop.p99 * 1000)} / ${ms(loop.max * 1000)}`,
      target: "the gateway's own share of the latency (prom-client, reset per phase)",
    });
    const line = (name: string, during: Sample): ReportLine => ({
      metric: `admin query p50 / p99 while a ${name} runs`,
      value: `${ms(during.p50)} / ${ms(during.p99)}`,
      target: `p99 < ${TARGET_P99_MS} ms (${ratio(during.p99 / idle.p99)} idle p99; ${during.n} queries over ${during.seconds.toFixed(1)} s of ${during.jobs} ${name}s)`,
      verdict: verdict(during.p99 < TARGET_P99_MS),
    });
    return [
      { metric: 'admin query p50 / p99, idle', value: `${ms(idle.p50)} / ${ms(idle.p99)}`, target: `${IDLE_QUERIES} sequential { me { id } }, ${database.rows.toLocaleString('en-US')} rows` },
      loopLine('idle', idle.loop),
      line('backup', duringBackup),
      loopLine('backup', duringBackup.loop),
      line('restore', duringRestore),
      loopLine('restore', duringRestore.loop),
    ];
  } finally {
    kiln.child.kill('SIGTERM');
    await kiln.exited;
  }
}

interface Sample {
  p50: number;
  p99: number;
  n: number;
  /** Time the jobs ran, summed. */
  seconds: number;
  jobs: number;
}

/** Jobs from `start` one after another, the admin's queries timed while each runs, until there are enough of them. */
async function whileJobsRun(kiln: KilnProcess, auth: Record<string, string>, start: (n: number) => Promise<string>): Promise<Sample> {
  const times: number[] = [];
  let seconds = 0;
  let jobs = 0;
  while (times.length < MIN_QUERIES_DURING_JOBS && jobs < MAX_JOBS) {
    const started = performance.now();
    times.push(...(await whileJobRuns(kiln, auth, await start(jobs))));
    seconds += (performance.now() - started) / 1000;
    jobs++;
  }
  return { ...percentiles(times), seconds, jobs };
}

/** Sequential admin queries from the job's start until it ends; the job's end is polled every tenth query. */
async function whileJobRuns(kiln: KilnProcess, auth: Record<string, string>, jobId: string): Promise<number[]> {
  let running = true;
  const times = await timeQueries(kiln, auth, () => running, async (n) => {
    if (n % 10 !== 0) return;
    const res = await postGraphql(kiln, JSON.stringify({ query: `{ job(id: "${jobId}") { status error } }` }), auth);
    if (endedByRestore(res)) return void (running = false);
    if (res.errors?.length) throw new Error(`job ${jobId}: ${JSON.stringify(res.errors)}`);
    const job = res.data;
    const status = job.job.status as string;
    if (status === 'FAILED' || status === 'CANCELLED') throw new Error(`job ${jobId} ${status}: ${job.job.error}`);
    running = status !== 'COMPLETED';
  });
  return times;
}

interface LoopDelay {
  p99: number;
  max: number;
}

/** The gateway's event loop delay since the last scrape: prom-client resets its histogram on each collection. */
async function eventLoopDelay(kiln: KilnProcess, token: string): Promise<LoopDelay> {
  const res = await fetch(`${kiln.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { p99: value('nodejs_eventloop_lag_p99_seconds'), max: value('nodejs_eventloop_lag_max_seconds') };
}

async function timeQueries(
  kiln: KilnProcess,
  auth: Record<string, string>,
  more: (n: number) => boolean,
  between?: (n: number) => Promise<void>,
): Promise<number[]> {
  const times: number[] = [];
  for (let n = 0; more(n); n++) {
    const started = performance.now();
    const res = await postGraphql(kiln, ME, auth);
    if (between && endedByRestore(res)) break;
    if (!res.data?.me) throw new Error(`the admin's query failed: ${JSON.stringify(res.errors)}`);
    times.push(performance.now() - started);
    await between?.(n);
  }
  return times;
}

/**
 * Whether the session was ended by a restore's commit, so the restore has ended: it revokes every
 * session the backup holds (SESSION_REVOKED), and one signed in after the backup was taken is not
 * in the restored data at all (TOKEN_INVALID: from the second restore on, the bench's own).
 */
function endedByRestore(res: { errors?: Array<{ extensions?: { reason?: unknown } }> }): boolean {
  const reason = res.errors?.[0]?.extensions?.reason;
  return reason === 'SESSION_REVOKED' || reason === 'TOKEN_INVALID';
}

async function startJob(kiln: KilnProcess, auth: Record<string, string>, mutation: string, field: string): Promise<string> {
  const data = await gql(kiln, auth, mutation);
  return data[field].id as string;
}

async function backupOfJob(kiln: KilnProcess, auth: Record<string, string>, jobId: string): Promise<string> {
  const data = await gql(kiln, auth, `{ job(id: "${jobId}") { backup { id } } }`);
  if (!data.job.backup?.id) throw new Error(`job ${jobId} names no backup`);
  return data.job.backup.id as string;
}

/** Signs in; while a restore still holds the login accounts (CONFLICT), again a moment later, for 60 s at most. */
async function login(kiln: KilnProcess): Promise<string> {
  const query = JSON.stringify({ query: `mutation { login(email: "${BENCH_ADMIN.email}", password: "${BENCH_ADMIN.password}") { token } }` });
  for (const deadline = performance.now() + 60_000; ; ) {
    const res = await postGraphql(kiln, query, {});
    if (res.data?.login?.token) return res.data.login.token as string;
    if (res.errors?.[0]?.extensions?.code !== 'CONFLICT' || performance.now() > deadline) throw new Error(`login: ${JSON.stringify(res.errors)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function gql(kiln: KilnProcess, headers: Record<string, string>, query: string): Promise<any> {
  const res = await postGraphql(kiln, JSON.stringify({ query }), headers);
  if (res.errors?.length) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(res.errors)}`);
  return res.data;
}
