import { fork } from 'node:child_process';
import { Client } from 'pg';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KilnProcess } from '../test/support/kiln-process';
import { BENCH_ADMIN, ME, ms, percentiles, postGraphql } from './bench-gateway-client';
import { prepareDatabase, startBenchGateway } from './bench-databases';
import { ratio, verdict, type BenchContext, type ReportLine } from './bench-report';

const LOOPS = 30;
// Enough for a p99 that is not just the second-slowest of a handful.
const QUERIES = 1000;
const TARGET_P99_RATIO = 2;

/**
 * LOGIN FLOOD lines (issue #10): an admin's query, p50 and p99 over 200 sequential requests,
 * while 30 anonymous loops (another process: login-flood-child) send logins with wrong passwords, against the same query with no
 * flood, in one run on one gateway (its own process, on the bench server). Two floods: from
 * one address (rate-limited), and from a new address every request (TRUST_PROXY=loopback,
 * X-Forwarded-For), where each login costs a password check.
 */
export async function measureLoginFlood(ctx: BenchContext): Promise<ReportLine[]> {
  const database = await prepareDatabase(ctx.server.url, 'kiln_bench_loginflood', 200);
  const kiln = await startBenchGateway(ctx.workDir, database, BENCH_ADMIN, { TRUST_PROXY: 'loopback' });
  try {
    // The bench database outlives a run: limits an earlier run left must not shape this one.
    const reset = new Client({ connectionString: database.url });
    await reset.connect();
    await reset.query('DELETE FROM kiln.kiln_rate_limits').finally(() => reset.end());
    const token = await login(kiln, BENCH_ADMIN.email, BENCH_ADMIN.password, '192.0.2.250');
    const idle = await adminQueries(kiln, token);
    const oneAddress = await duringFlood(kiln, token, 'one');
    const manyAddresses = await duringFlood(kiln, token, 'many');
    const line = (name: string, flood: Flood): ReportLine[] => [
      {
        metric: `login flood: admin query p50 / p99, ${name}`,
        value: `${ms(flood.p50)} / ${ms(flood.p99)}`,
        target: `p99 <= ${TARGET_P99_RATIO}x idle (${ratio(flood.p99 / idle.p99)}); ${flood.logins} logins: ${flood.limited} TOO_MANY_REQUESTS`,
        verdict: verdict(flood.p99 <= TARGET_P99_RATIO * idle.p99),
      },
    ];
    return [
      { metric: 'login flood: admin query p50 / p99, idle', value: `${ms(idle.p50)} / ${ms(idle.p99)}`, target: `${QUERIES} sequential { me { id } }` },
      ...line(`${LOOPS} loops from one address`, oneAddress),
      ...line(`${LOOPS} loops, a new address and email each login`, manyAddresses),
    ];
  } finally {
    kiln.child.kill('SIGTERM');
    await kiln.exited;
  }
}

interface Flood {
  p50: number;
  p99: number;
  logins: number;
  limited: number;
}

async function duringFlood(kiln: KilnProcess, token: string, mode: 'one' | 'many'): Promise<Flood> {
  const child = fork(path.join(__dirname, 'login-flood-child.js'), [kiln.url, String(LOOPS), mode]);
  const messages: Array<Record<string, number>> = [];
  child.on('message', (m: Record<string, number>) => messages.push(m));
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise((r) => setTimeout(r, 20));
  };
  await until(() => messages.length > 0);
  // The flood is in full swing before the admin's queries are timed.
  await new Promise((r) => setTimeout(r, 1000));
  const timed = await adminQueries(kiln, token);
  child.send('stop');
  await until(() => messages.length > 1);
  const { logins, limited } = messages[1];
  return { ...timed, logins, limited };
}

async function adminQueries(kiln: KilnProcess, token: string): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const started = performance.now();
    const res = await postGraphql(kiln, ME, { authorization: `Bearer ${token}` });
    if (!res.data?.me) throw new Error(`the admin's query failed: ${JSON.stringify(res.errors)}`);
    times.push(performance.now() - started);
  }
  return percentiles(times);
}

const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }';

async function login(kiln: KilnProcess, email: string, password: string, address: string): Promise<string> {
  const res = await postGraphql(kiln, JSON.stringify({ query: LOGIN, variables: { e: email, p: password } }), { 'x-forwarded-for': address });
  if (!res.data?.login) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login.token;
}
