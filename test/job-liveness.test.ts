import { mkdtempSync, rmSync } from 'node:fs';
import { Client } from 'pg';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InstanceLiveness } from '../src/jobs/instance-liveness';
import { registerInstance } from '../src/jobs/instance-registry';
import { JobRunner } from '../src/jobs/job-runner';
import { createLogger } from '../src/logging/logger';
import { startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { errorCode, gql } from './support/test-kiln';
import { until } from './support/until';

/*
 * Whether an instance is gone is the database's verdict (each instance holds an advisory lock on a
 * connection of its own), never a pid's; a verdict is applied once, by the start-up sweep; a sweep
 * never frees a lease a live job still renews.
 */
let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(5);
});
afterAll(async () => s?.close());

const logger = createLogger('silent');
const row = async (id: string) => (await s.db.query(`SELECT status, "errorCode" FROM kiln_jobs WHERE id = $1`, [id])).rows[0];
const leaseHolder = async () => (await s.db.query(`SELECT "jobId" FROM kiln_leases WHERE name = 'exclusive-job'`)).rows[0]?.jobId ?? null;
const settledAll = () =>
  until('no job active', async () => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE status IN ('QUEUED','RUNNING')`)).rows[0].n, (n) => n === 0);

it('two gateways sharing a data folder (same host name, any pids) never judge each other gone; one whose session ended is', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-liveness-'));
  const a = await InstanceLiveness.hold(s.kiln.dataSource, 'kiln:1:A', logger);
  const b = await InstanceLiveness.hold(s.kiln.dataSource, 'kiln:1:B', logger);
  try {
    expect(await registerInstance(dir, 'kiln:1:A', (ids) => a.goneAmong(ids))).toEqual([]);
    expect(await registerInstance(dir, 'kiln:1:B', (ids) => b.goneAmong(ids))).toEqual([]);
    expect(await b.goneAmong(['kiln:1:A', 'kiln:1:never-ran'])).toEqual(['kiln:1:never-ran']);
    // A's process dies: its session (and lock) goes with it.
    await a.close();
    const c = await InstanceLiveness.hold(s.kiln.dataSource, 'kiln:1:C', logger);
    try {
      expect(await registerInstance(dir, 'kiln:1:C', (ids) => c.goneAmong(ids))).toEqual(['kiln:1:A']);
    } finally {
      await c.close();
    }
  } finally {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a gone-verdict is applied by the start-up sweep only: jobs the instance runs later are not failed by later sweeps', async () => {
  const liveId = s.kiln.services.jobs.instanceId;
  // As if a judge had (wrongly) been told at its start that this live instance was gone.
  const judge = new JobRunner(s.kiln.dataSource, { publish: () => undefined } as never, logger, 'judge', {
    leaseTtlMs: 600_000,
    heartbeatMs: 60_000,
    goneInstanceIds: [liveId],
  });
  await settledAll();
  expect(await judge.failInterruptedJobs()).toEqual([]); // the start-up sweep: nothing of that instance was active
  await whileTableLocked(s, async () => {
    const job = await startBackup(s);
    await until('running', () => row(job.jobId), (r) => r.status === 'RUNNING');
    expect(await judge.failInterruptedJobs()).toEqual([]);
    expect((await row(job.jobId)).status).toBe('RUNNING');
    expect(await leaseHolder()).toBe(job.jobId);
  });
  await settledAll();
}, 120_000);

it("a sweep that fails a job whose heartbeat looks stale keeps the lease its live holder still renews", async () => {
  await whileTableLocked(s, async () => {
    const job = await startBackup(s);
    await until('running', () => row(job.jobId), (r) => r.status === 'RUNNING');
    // A stalled heartbeat (a long GC pause, a clock step): the row looks dead, the lease is not expired.
    // Its own heartbeat (every 5 s) may land between the two and make the row live again, as it
    // would for a real pause: then the row is made stale again (a whole-suite run, seed -261524051, met that once).
    const failed = await until(
      'a sweep to fail the job',
      async () => {
        await s.db.query(`UPDATE kiln_jobs SET "heartbeatAt" = CURRENT_TIMESTAMP - interval '1 day' WHERE id = $1`, [job.jobId]);
        return s.kiln.services.jobs.failInterruptedJobs();
      },
      (jobs) => jobs.length > 0,
      30_000,
    );
    expect(failed.map((j) => j.id)).toEqual([job.jobId]);
    expect(await row(job.jobId)).toMatchObject({ status: 'FAILED', errorCode: 'INTERRUPTED' });
    // The job still runs here until its next heartbeat: no second exclusive job may start beside it.
    expect(await leaseHolder()).toBe(job.jobId);
    expect(errorCode(await gql(s.kiln.url, 'mutation { createBackup { id status } }', {}, s.token))).toBe('CONFLICT');
  });
  await settledAll();
  await until('lease released by the job itself', leaseHolder, (h) => h === null);
}, 120_000);

it('the sweep does not fail a job that beat (or started) while the sweep was deciding: one UPDATE decides on the row it locks', async () => {
  const id = `sweep-race-${Date.now()}`;
  await s.db.query(
    `INSERT INTO kiln_jobs (id, kind, status, "instanceId", "createdAt", "startedAt", "heartbeatAt", percent, "rowsDone", "bytesDone", "cancelRequested")
     VALUES ($1, 'VERIFY', 'RUNNING', 'elsewhere', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP - interval '1 day', 0, 0, 0, false)`,
    [id],
  );
  const other = new Client({ connectionString: s.kiln.databaseUrl });
  await other.connect();
  try {
    // The job's instance holds its row (a heartbeat in flight) while the sweep looks at it.
    await other.query('BEGIN');
    await other.query(`SELECT id FROM kiln_jobs WHERE id = $1 FOR UPDATE`, [id]);
    const sweep = s.kiln.services.jobs.failInterruptedJobs();
    await until(
      'the sweep waiting for the row',
      async () =>
        (await s.db.query(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE NOT l.granted AND a.datname = current_database() AND l.pid <> pg_backend_pid()`,
        )).rows[0].n,
      (n) => n > 0,
    );
    await other.query(`UPDATE kiln_jobs SET "heartbeatAt" = CURRENT_TIMESTAMP WHERE id = $1`, [id]);
    await other.query('COMMIT');
    expect((await sweep).map((j) => j.id)).not.toContain(id);
    expect((await row(id)).status).toBe('RUNNING');
  } finally {
    await other.query('ROLLBACK').catch(() => undefined);
    await other.end();
    await s.db.query(`DELETE FROM kiln_jobs WHERE id = $1`, [id]);
  }
});
