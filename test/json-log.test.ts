/**
 * Everything the server prints is a JSON log line, on its way up, when it cannot start, and
 * while it runs: `node dist/src/main.js` as a child process, every line of stdout and stderr read.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { Client } from 'pg';
import WebSocket from 'ws';
import { runKilnProcessToExit, startKilnProcess, type KilnOutput } from './support/kiln-process';
import { extraDatabaseName } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { gql, loginToken, TEST_ADMIN, TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET } from './support/test-kiln';
import { until } from './support/until';

const dataDir = () => mkdtempSync(path.join(tmpdir(), 'kiln-json-log-'));

/** The lines of stdout and stderr that are not JSON objects (none, when all is well). */
function notJson(output: KilnOutput): string[] {
  return [...output.stdout, ...output.stderr].filter((line) => {
    try {
      const value = JSON.parse(line);
      return typeof value !== 'object' || value === null;
    } catch {
      return true;
    }
  });
}

async function gatewayEnv(suffix: string): Promise<Record<string, string>> {
  return {
    DATABASE_URL: await freshDatabase(extraDatabaseName(suffix)),
    JWT_SECRET: TEST_JWT_SECRET,
    BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY,
    DATA_DIR: dataDir(),
    BCRYPT_COST: '10',
  };
}

it('says that its configuration is invalid in one JSON line naming every bad key', async () => {
  const run = await runKilnProcessToExit({ DATA_DIR: dataDir(), PORT: 'abc', ADMIN_PASSWORD: 'short' });
  expect(run.code).toBe(78);
  expect(run.stderr).toEqual([]);
  expect(run.stdout).toHaveLength(1);
  const line = JSON.parse(run.stdout[0]);
  expect(line).toMatchObject({ level: 'fatal', msg: expect.stringMatching(/^Invalid configuration: /) });
  expect(line.problems).toEqual([expect.stringMatching(/^PORT: /), expect.stringMatching(/^ADMIN_PASSWORD: /)]);
});

it('writes only JSON lines when its port is taken, the last one naming EADDRINUSE', async () => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  try {
    const port = (squatter.address() as AddressInfo).port;
    const run = await runKilnProcessToExit({ ...(await gatewayEnv('json_busy_port')), HOST: '127.0.0.1', PORT: String(port) });
    expect(run.code).toBe(1);
    expect(notJson(run)).toEqual([]);
    // ws, bound to the HTTP server, used to re-emit its error and graphql-ws printed the raw stack.
    expect(run.stderr).toEqual([]);
    const last = JSON.parse(run.stdout.at(-1)!);
    expect(last).toMatchObject({ level: 'fatal', msg: 'Kiln failed to start', err: { code: 'EADDRINUSE', stack: expect.any(String) } });
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
});

it('writes only JSON lines while it runs, and many subscriptions raise no MaxListenersExceededWarning', async () => {
  const env = await gatewayEnv('json_running');
  const kiln = await startKilnProcess({ ...env, ADMIN_EMAIL: TEST_ADMIN.email, ADMIN_PASSWORD: TEST_ADMIN.password });
  const token = await loginToken(kiln.url);
  const db = new Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  const socket = createClient({
    url: `${kiln.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    // A backup kept RUNNING by a lock on a table it reads: its followers stay subscribed meanwhile.
    await db.query('BEGIN');
    await db.query('LOCK TABLE "LoanType" IN ACCESS EXCLUSIVE MODE');
    const started = await gql(kiln.url, 'mutation { createBackup { id } }', {}, token);
    const jobId: string = started.data!.createBackup.id;
    // Each follower is one listener on the job events from its first event (the job as it is) on.
    const followers = Array.from({ length: 12 }, () => {
      const events: Array<{ status: string }> = [];
      socket.subscribe<{ jobProgress: { status: string } }>(
        { query: 'subscription($id: ID) { jobProgress(jobId: $id) { status } }', variables: { id: jobId } },
        { next: (e) => void events.push(e.data!.jobProgress), error: () => undefined, complete: () => undefined },
      );
      return events;
    });
    await until('every follower has the running job', async () => followers.map((f) => f.length), (n) => n.every((x) => x > 0));
    await db.query('COMMIT');
    await until('every follower has seen the backup complete', async () => followers.map((f) => f.at(-1)?.status), (s) => s.every((x) => x === 'COMPLETED'));
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
    await db.end();
    await socket.dispose();
    kiln.child.kill('SIGTERM');
    await kiln.ended;
  }
  expect(await kiln.exited).toBe(0);
  expect(notJson(kiln.output)).toEqual([]);
  expect(kiln.output.stderr).toEqual([]);
  const warnings = kiln.output.stdout.map((line) => JSON.parse(line)).filter((l) => l.err?.name === 'MaxListenersExceededWarning');
  expect(warnings).toEqual([]);
});
