import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { KilnJobInterruptedCode1764000000014 } from '../migrations/1764000000014-kiln-job-interrupted-code';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { startKilnProcess, type KilnProcess } from './support/kiln-process';
import { extraDatabaseName, finishedJob, JOB_QUERY, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN, TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

/*
 * Jobs as a queue: a job that cannot start yet because the job lease is held is QUEUED (asked for
 * with createBackup's queue: true, or by a scheduled fire), visible to every instance, started in
 * the order it was queued when the lease frees, and cancellable before it runs. A gateway that
 * restarts after a crash fails its own dead jobs at once (errorCode INTERRUPTED) instead of
 * waiting for their lease to expire.
 */

const CREATE = 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id status startedAt backup { id } } }';
const CANCEL = 'mutation($id: ID!) { cancelJob(id: $id) { id status error startedAt finishedAt } }';
const QUEUED = '{ jobs(status: QUEUED) { id kind status } }';
const JOB = 'query($id: ID!) { job(id: $id) { id status error errorCode startedAt finishedAt backup { id status } } }';

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(5);
});
afterAll(async () => s?.close());
afterEach(async () => {
  // No test leaves a job queued or running for the next one.
  await until('no job queued or running', async () => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rows[0].n, (n) => n === 0);
});

const create = (input: Record<string, unknown>, kiln: { url: string } = s.kiln) => gql(kiln.url, CREATE, { i: input }, s.token);
async function queueBackup(kiln: { url: string } = s.kiln): Promise<string> {
  const res = await create({ queue: true }, kiln);
  expect(res.errors).toBeUndefined();
  expect(res.data!.createBackup).toMatchObject({ status: 'QUEUED', startedAt: null, backup: null });
  return res.data!.createBackup.id;
}
const job = async (id: string) => (await gql(s.kiln.url, JOB, { id }, s.token)).data!.job;
const jobRow = async (id: string) => (await s.db.query(`SELECT status, "startedAt", "finishedAt", "instanceId", "errorCode" FROM kiln_jobs WHERE id = $1`, [id])).rows[0];
const settledJob = (id: string) => until(`job ${id} to finish`, () => job(id), (j) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(j.status));

describe('a manual backup asked to queue', () => {
  it('starts when the running one ends; without queue the answer is still CONFLICT', async () => {
    const { running, queued } = await whileTableLocked(s, async () => {
      const running = await startBackup(s);
      const refused = await create({});
      expect(errorCode(refused)).toBe('CONFLICT');
      expect(refused.errors![0].extensions).toMatchObject({ runningJobId: running.jobId });
      const queued = await queueBackup();
      // Queued, and now in the way of a direct start too: the queue keeps its order.
      expect((await gql(s.kiln.url, QUEUED, {}, s.token)).data!.jobs).toEqual([{ id: queued, kind: 'BACKUP', status: 'QUEUED' }]);
      expect((await jobRow(running.jobId)).status).toBe('RUNNING');
      return { running, queued };
    });
    const first = await finishedJob(s, running.jobId);
    expect(first.status).toBe('COMPLETED');
    const second = await settledJob(queued);
    expect(second).toMatchObject({ status: 'COMPLETED', errorCode: null, backup: { status: 'COMPLETED' } });
    // Exclusive still: it started once the first had ended.
    const [a, b] = [await jobRow(running.jobId), await jobRow(queued)];
    expect(b.startedAt.getTime()).toBeGreaterThanOrEqual(a.finishedAt.getTime());
  });

  it('two queued jobs run in the order they were queued', async () => {
    const ids = await whileTableLocked(s, async () => {
      const running = await startBackup(s);
      return [running.jobId, await queueBackup(), await queueBackup()];
    });
    for (const id of ids) expect((await settledJob(id)).status).toBe('COMPLETED');
    const rows = [];
    for (const id of ids) rows.push(await jobRow(id));
    for (let i = 1; i < rows.length; i++) expect(rows[i].startedAt.getTime()).toBeGreaterThanOrEqual(rows[i - 1].finishedAt.getTime());
  });

  it('is CANCELLED by cancelJob without ever running; a finished job cannot be cancelled', async () => {
    const { running, queued, cancelled } = await whileTableLocked(s, async () => {
      const running = await startBackup(s);
      const queued = await queueBackup();
      const res = await gql(s.kiln.url, CANCEL, { id: queued }, s.token);
      expect(res.errors).toBeUndefined();
      return { running, queued, cancelled: res.data!.cancelJob };
    });
    expect(cancelled).toMatchObject({ id: queued, status: 'CANCELLED', startedAt: null, finishedAt: expect.any(String) });
    expect((await finishedJob(s, running.jobId)).status).toBe('COMPLETED');
    // The lease came free and the job still never ran: no start, no backup record.
    expect(await job(queued)).toMatchObject({ status: 'CANCELLED', startedAt: null, backup: null });
    const records = await s.db.query(`SELECT count(*)::int AS n FROM backup_records r JOIN kiln_backup_details d ON d.id = r.id WHERE d."jobId" = $1`, [queued]);
    expect(records.rows[0].n).toBe(0);
    // Cancelling it again, or cancelling the completed one: CONFLICT, and nothing changes.
    for (const id of [queued, running.jobId]) {
      const again = await gql(s.kiln.url, CANCEL, { id }, s.token);
      expect(errorCode(again)).toBe('CONFLICT');
    }
    expect((await job(running.jobId)).status).toBe('COMPLETED');
  });

  it('is refused while maintenance mode is on (CONFLICT), and nothing is queued', async () => {
    const maintenance = (on: boolean) => gql(s.kiln.url, 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on) { enabled } }', { on }, s.token);
    expect((await maintenance(true)).errors).toBeUndefined();
    try {
      const refused = await create({ queue: true });
      expect(errorCode(refused)).toBe('CONFLICT');
      expect(refused.errors![0].message).toMatch(/maintenance/i);
      expect((await gql(s.kiln.url, QUEUED, {}, s.token)).data!.jobs).toEqual([]);
    } finally {
      expect((await maintenance(false)).errors).toBeUndefined();
    }
  });

  it('a bad queue value is refused by the schema', async () => {
    expect(errorCode(await create({ queue: 'yes' }))).toBe('BAD_USER_INPUT');
  });
});

describe('a scheduled fire while a manual backup runs', () => {
  it('is QUEUED, recorded on its claim, and runs when the manual backup ends', async () => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    const claimed = await whileTableLocked(s, async () => {
      const running = await startBackup(s);
      await s.kiln.scheduler.fire('BACKUP', at, 'catch-up');
      const [claim] = (await s.db.query(`SELECT "jobId", "backupId" FROM kiln_schedule_runs WHERE kind = 'BACKUP' AND "jobId" IS NOT NULL`)).rows;
      expect(claim).toBeDefined();
      expect(await jobRow(claim.jobId)).toMatchObject({ status: 'QUEUED' });
      expect((await jobRow(running.jobId)).status).toBe('RUNNING');
      return claim;
    });
    const done = await settledJob(claimed.jobId);
    expect(done).toMatchObject({ status: 'COMPLETED', backup: { id: claimed.backupId, status: 'COMPLETED' } });
    const record = await s.db.query(`SELECT upper(type) AS type FROM backup_records WHERE id = $1`, [claimed.backupId]);
    expect(record.rows).toEqual([{ type: 'SCHEDULED' }]);
  });
});

describe('the queue across instances', () => {
  let other: TestKiln;
  let closed = false;
  beforeEach(async () => {
    other = await startTestKiln({}, s.kiln.databaseUrl);
    closed = false;
  });
  afterEach(async () => {
    if (!closed) await other.close();
  });

  it('a job queued on one instance is seen and cancelled on another, and never runs', async () => {
    const { running, queued } = await whileTableLocked(s, async () => {
      const running = await startBackup(s);
      const queued = await queueBackup(other);
      expect((await gql(s.kiln.url, QUEUED, {}, s.token)).data!.jobs.map((j: { id: string }) => j.id)).toEqual([queued]);
      const res = await gql(s.kiln.url, CANCEL, { id: queued }, s.token);
      expect(res.data?.cancelJob).toMatchObject({ status: 'CANCELLED' });
      return { running, queued };
    });
    expect((await finishedJob(s, running.jobId)).status).toBe('COMPLETED');
    // The instance that queued it lets it go at its next look at the queue.
    await other.services.jobs.startQueued();
    await other.services.jobs.settled(queued);
    expect(await job(queued)).toMatchObject({ status: 'CANCELLED', startedAt: null });
  });

  it('a job queued on another instance runs there when the lease frees', async () => {
    const { running, queued } = await whileTableLocked(s, async () => ({ running: await startBackup(s), queued: await queueBackup(other) }));
    expect((await finishedJob(s, running.jobId)).status).toBe('COMPLETED');
    await other.services.jobs.startQueued(); // what its heartbeat does within a few seconds
    await other.services.jobs.settled(queued);
    expect(await job(queued)).toMatchObject({ status: 'COMPLETED' });
    expect((await jobRow(queued)).instanceId).toBe(other.services.jobs.instanceId);
  });

  it('the queued jobs of an instance that stops are failed as interrupted', async () => {
    const queued = await whileTableLocked(s, async () => {
      const running = await startBackup(s);
      const queued = await queueBackup(other);
      await other.close();
      closed = true;
      expect(await jobRow(queued)).toMatchObject({ status: 'FAILED', errorCode: 'INTERRUPTED' });
      expect((await jobRow(running.jobId)).status).toBe('RUNNING');
      return queued;
    });
    expect((await job(queued)).error).toMatch(/^interrupted: /);
  });
});

it('migration 14 gives the jobs interrupted before it (the message prefix only) errorCode INTERRUPTED, and no others', async () => {
  await s.db.query(
    `INSERT INTO kiln_jobs (id, kind, status, error, "errorCode", "finishedAt") VALUES
       ('old-interrupted', 'BACKUP', 'FAILED', 'interrupted: the gateway running it stopped before it finished', NULL, LOCALTIMESTAMP),
       ('old-failed', 'BACKUP', 'FAILED', 'disk full', NULL, LOCALTIMESTAMP),
       ('old-corrupt', 'RESTORE', 'FAILED', 'interrupted: is not how this one starts its reason', 'BACKUP_CORRUPT', LOCALTIMESTAMP)`,
  );
  const runner = s.kiln.dataSource.createQueryRunner();
  try {
    await new KilnJobInterruptedCode1764000000014().up(runner);
  } finally {
    await runner.release();
  }
  const rows = await s.db.query(`SELECT id, "errorCode" FROM kiln_jobs WHERE id LIKE 'old-%' ORDER BY id`);
  expect(rows.rows).toEqual([
    { id: 'old-corrupt', errorCode: 'BACKUP_CORRUPT' },
    { id: 'old-failed', errorCode: null },
    { id: 'old-interrupted', errorCode: 'INTERRUPTED' },
  ]);
});

describe('a gateway restarted after a crash', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-queue-restart-'));
  const otherDir = mkdtempSync(path.join(tmpdir(), 'kiln-queue-other-'));
  let url: string;
  let db: Client;
  const started: KilnProcess[] = [];
  const start = async (dir: string) => {
    const p = await startKilnProcess({
      DATABASE_URL: url,
      JWT_SECRET: TEST_JWT_SECRET,
      BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY,
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      DATA_DIR: dir,
      BACKUP_DIR: path.join(dir, 'backups'),
      // Ten minutes: nothing in this test can be explained by a lease expiring.
      JOB_LEASE_TTL_SECONDS: '600',
    });
    started.push(p);
    return p;
  };
  beforeAll(async () => {
    url = await freshDatabase(extraDatabaseName('queue_restart'));
    db = new Client({ connectionString: url });
    await db.connect();
  });
  afterAll(async () => {
    for (const p of started) p.child.kill('SIGTERM');
    await Promise.all(started.map((p) => p.exited));
    await db?.end();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  it('fails its own dead RUNNING job at once (INTERRUPTED) and starts a new job at once; another instance waits for the TTL', async () => {
    const first = await start(dataDir);
    await seedDemoData(db, { members: 5, seed: 3 });
    const token = await loginToken(first.url);
    const deadJob = await whileTableLocked(url, async () => {
      const res = await gql(first.url, CREATE, { i: {} }, token);
      const id: string = res.data!.createBackup.id;
      await until('the backup running', async () => (await db.query(`SELECT status FROM kiln_jobs WHERE id = $1`, [id])).rows[0].status, (st) => st === 'RUNNING');
      first.child.kill('SIGKILL');
      await first.exited;
      return id;
    });

    // Another gateway (its own data folder) cannot know the dead one is gone: the lease holds.
    const other = await start(otherDir);
    expect((await db.query(`SELECT status FROM kiln_jobs WHERE id = $1`, [deadJob])).rows[0].status).toBe('RUNNING');
    expect(errorCode(await gql(other.url, CREATE, { i: {} }, token))).toBe('CONFLICT');
    other.child.kill('SIGTERM');
    await other.exited;

    // The same data folder again: its own dead job is failed as it starts, and the lease is free.
    const second = await start(dataDir);
    const dead = (await db.query(`SELECT status, error, "errorCode" FROM kiln_jobs WHERE id = $1`, [deadJob])).rows[0];
    expect(dead).toMatchObject({ status: 'FAILED', errorCode: 'INTERRUPTED', error: expect.stringMatching(/^interrupted: /) });
    const record = await db.query(`SELECT upper(r.status) AS status FROM backup_records r JOIN kiln_backup_details d ON d.id = r.id WHERE d."jobId" = $1`, [deadJob]);
    expect(record.rows).toEqual([{ status: 'FAILED' }]);
    const fresh = await gql(second.url, CREATE, { i: {} }, token);
    expect(fresh.errors).toBeUndefined();
    expect(fresh.data!.createBackup.status).toBe('RUNNING');
    const done = await until('the new backup', async () => (await gql(second.url, JOB_QUERY, { id: fresh.data!.createBackup.id }, token)).data!.job, (j) => j.status !== 'RUNNING');
    expect(done.status).toBe('COMPLETED');
  }, 120_000);
});
