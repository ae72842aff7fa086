import { MAX_QUEUED_PER_LEASE } from '../src/jobs/job-runner';
import { JobKind, JobStatus } from '../src/jobs/job.enums';
import { RESTORE } from './support/restore-helpers';
import { startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { errorCode, gql, loginToken } from './support/test-kiln';
import { until } from './support/until';

/*
 * The queue has limits: scheduled fires behind a long job join the scheduled backup already
 * waiting, a lease has at most MAX_QUEUED_PER_LEASE jobs waiting, and maintenance mode holds the
 * queue (nothing starts from it, nothing is added to it) while the admin's restore goes first.
 */
let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(5);
});
afterAll(async () => s?.close());

const META = { ipAddress: null, userAgent: null };
const CREATE = 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id status backup { id } } }';
const status = async (id: string): Promise<string> => (await s.db.query(`SELECT status FROM kiln_jobs WHERE id = $1`, [id])).rows[0].status;
const queuedIds = async (): Promise<string[]> => (await s.db.query(`SELECT id FROM kiln_jobs WHERE status = 'QUEUED' ORDER BY "createdAt", id`)).rows.map((r) => r.id);
const drained = () =>
  until('no job active', async () => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE status IN ('QUEUED','RUNNING')`)).rows[0].n, (n) => n === 0, 120_000);

it('scheduled fires behind a long job join the one scheduled backup already queued: every claim points at it', async () => {
  await s.db.query(`DELETE FROM kiln_schedule_runs`);
  const base = Math.floor(Date.now() / 1000) * 1000 + 7 * 86_400_000;
  let queued: string[] = [];
  await whileTableLocked(s, async () => {
    await startBackup(s);
    for (let i = 0; i < 3; i++) await s.kiln.scheduler.fire('BACKUP', new Date(base + i * 300_000), 'catch-up');
    queued = await queuedIds();
    expect(queued).toHaveLength(1);
    const claims = (await s.db.query(`SELECT "jobId" FROM kiln_schedule_runs WHERE kind = 'BACKUP' ORDER BY "scheduledFor"`)).rows.map((r) => r.jobId);
    expect(claims).toEqual([queued[0], queued[0], queued[0]]);
  });
  await drained();
  expect(await status(queued[0])).toBe('COMPLETED');
}, 180_000);

it(`a lease takes at most ${MAX_QUEUED_PER_LEASE} queued jobs: one more is CONFLICT`, async () => {
  const jobs = s.kiln.services.jobs;
  await whileTableLocked(s, async () => {
    await startBackup(s);
    for (let i = 0; i < MAX_QUEUED_PER_LEASE; i++) {
      const job = await jobs.start({ kind: JobKind.BACKUP, requestedById: null, input: { n: i }, run: async () => undefined }, { queue: true });
      expect(job.status).toBe(JobStatus.QUEUED);
    }
    const refused = await gql(s.kiln.url, CREATE, { i: { queue: true } }, s.token);
    expect(errorCode(refused)).toBe('CONFLICT');
    expect(refused.errors![0].message).toMatch(new RegExp(`${MAX_QUEUED_PER_LEASE} jobs are already queued`));
    expect(await queuedIds()).toHaveLength(MAX_QUEUED_PER_LEASE);
    for (const id of await queuedIds()) await jobs.cancel(id);
  });
  await drained();
}, 180_000);

it('maintenance mode holds the queue: queued jobs wait, fires queue nothing, and a restore goes ahead of them', async () => {
  const jobs = s.kiln.services.jobs;
  let first!: { jobId: string; backupId: string };
  let waiting!: string;
  await whileTableLocked(s, async () => {
    first = await startBackup(s);
    const res = await gql(s.kiln.url, CREATE, { i: { queue: true } }, s.token);
    waiting = res.data!.createBackup.id;
    expect(res.data!.createBackup.status).toBe('QUEUED');
    await s.kiln.services.maintenance.set(true, 'restoring', null, META);
    // A fire now queues nothing behind the running job.
    await s.kiln.scheduler.fire('BACKUP', new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000), 'catch-up');
    expect(await queuedIds()).toEqual([waiting]);
  });
  try {
    await until('the first backup', () => status(first.jobId), (st) => st === 'COMPLETED');
    await jobs.startQueued();
    expect(await status(waiting)).toBe('QUEUED');
    // The restore the maintenance is for is not refused because of the backup waiting.
    await expect(jobs.assertCanStart(JobKind.RESTORE)).resolves.toBeUndefined();
    const restore = await gql(s.kiln.url, RESTORE, { id: first.backupId }, s.token);
    expect(errorCode(restore)).toBeUndefined();
    const restoreId: string = restore.data!.restoreBackup.id;
    await until('the restore', () => status(restoreId), (st) => st !== 'RUNNING', 120_000);
    expect(await status(restoreId)).toBe('COMPLETED');
    await jobs.startQueued();
    expect(await status(waiting)).toBe('QUEUED');
  } finally {
    await s.kiln.services.maintenance.set(false, null, null, META);
    // The restore logged everybody out: the tests after this one sign in again.
    s.token = await loginToken(s.kiln.url);
  }
  await jobs.startQueued();
  await until('the queued backup once maintenance is off', () => status(waiting), (st) => st === 'COMPLETED', 120_000);
}, 240_000);

it('a look at the local queue locks the lease once per lease, not once per queued job', async () => {
  const jobs = s.kiln.services.jobs;
  const leases = (jobs as unknown as { leases: { decide: (...args: unknown[]) => Promise<boolean> } }).leases;
  await whileTableLocked(s, async () => {
    await startBackup(s);
    for (let i = 0; i < 5; i++) await jobs.start({ kind: JobKind.BACKUP, requestedById: null, input: { n: i }, run: async () => undefined }, { queue: true });
    const decide = jest.spyOn(leases, 'decide');
    try {
      await jobs.startQueued();
      // The oldest local job's turn has not come (the lease is held): the four behind it are not asked.
      expect(decide).toHaveBeenCalledTimes(1);
    } finally {
      decide.mockRestore();
    }
    expect(await queuedIds()).toHaveLength(5);
  });
  await drained();
}, 180_000);
