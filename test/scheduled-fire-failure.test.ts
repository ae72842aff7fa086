import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { finishedJob, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql } from './support/test-kiln';
import { eventually } from './support/until';
import { startReceiver, type Receiver } from './support/webhook-receiver';

/*
 * A scheduled fire that fails before its backup exists (BACKUP_DIR not writable, no cloud, a full
 * queue, maintenance) is a FAILED job, announced as backup.failed like any failed backup, and
 * recorded on its claim so the takeover does not fire it again every claim TTL.
 */
const SECRET = 'whsec-test-0123456789abcdef';
let s: SeededKiln;
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver(SECRET);
  s = await startSeededKiln(5, { BACKUP_WEBHOOK_URL: receiver.url, BACKUP_WEBHOOK_SECRET: SECRET });
});
afterAll(async () => {
  await s?.close();
  await receiver?.close();
});

const backupJobs = async (): Promise<number> => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE kind = 'BACKUP'`)).rows[0].n;

it('BACKUP_DIR replaced by a file: the fire gives a FAILED job and a backup.failed notification, and is not fired again', async () => {
  await s.db.query(`DELETE FROM kiln_schedule_runs`);
  const dir = s.kiln.backupDir;
  mkdirSync(dir, { recursive: true });
  renameSync(dir, `${dir}.away`);
  writeFileSync(dir, 'not a folder');
  try {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
    await s.kiln.scheduler.fire('BACKUP', at, 'catch-up');
    const runs = (await s.db.query(`SELECT "jobId" FROM kiln_schedule_runs WHERE kind = 'BACKUP'`)).rows;
    expect(runs).toHaveLength(1);
    const jobId: string = runs[0].jobId;
    expect(jobId).toEqual(expect.any(String));
    const job = (await s.db.query(`SELECT status, error, "errorCode" FROM kiln_jobs WHERE id = $1`, [jobId])).rows[0];
    expect(job).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^Scheduled backup for .* did not run: /) });
    expect(job.errorCode).toEqual(expect.any(String));
    await eventually('backup.failed', () => receiver.find('backup.failed', (d) => d.jobId === jobId).length > 0);
    expect(receiver.find('backup.failed', (d) => d.jobId === jobId)[0].body.data).toMatchObject({ status: 'FAILED', errorCode: job.errorCode });

    // Long past the claim TTL, a poll's takeover leaves the fire alone: it has its outcome.
    const before = await backupJobs();
    await s.db.query(`UPDATE kiln_schedule_runs SET "claimedAt" = "claimedAt" - interval '1 day'`);
    await s.kiln.scheduler.tick();
    expect(await backupJobs()).toBe(before);
    expect((await s.db.query(`SELECT "jobId" FROM kiln_schedule_runs WHERE kind = 'BACKUP'`)).rows).toEqual([{ jobId }]);
  } finally {
    rmSync(dir, { force: true });
    renameSync(`${dir}.away`, dir);
  }
});

it('a fire in maintenance mode queues nothing and says so: a FAILED job naming maintenance mode', async () => {
  await s.db.query(`DELETE FROM kiln_schedule_runs`);
  await s.kiln.services.maintenance.set(true, 'restoring', null, { ipAddress: null, userAgent: null });
  try {
    await s.kiln.scheduler.fire('BACKUP', new Date(Math.floor(Date.now() / 1000) * 1000 + 7_200_000), 'catch-up');
    const [run] = (await s.db.query(`SELECT "jobId" FROM kiln_schedule_runs WHERE kind = 'BACKUP'`)).rows;
    const job = (await s.db.query(`SELECT status, error, "errorCode" FROM kiln_jobs WHERE id = $1`, [run.jobId])).rows[0];
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'CONFLICT', error: expect.stringMatching(/Maintenance mode is on/) });
    await eventually('backup.failed', () => receiver.find('backup.failed', (d) => d.jobId === run.jobId).length > 0);
  } finally {
    await s.kiln.services.maintenance.set(false, null, null, { ipAddress: null, userAgent: null });
  }
});

it('a timer of a backup schedule changed since (an instance that has not yet heard of the change) runs nothing; a timer of the schedule as saved runs its backup', async () => {
  await s.db.query(`DELETE FROM kiln_schedule_runs`);
  const fires = async () => (await s.db.query(`SELECT (SELECT count(*)::int FROM kiln_schedule_runs WHERE kind = 'BACKUP') AS claims, (SELECT count(*)::int FROM kiln_jobs WHERE kind = 'BACKUP') AS jobs`)).rows[0];
  const saved = await gql<{ updateBackupSchedule: { nextBackupAt: string } }>(s.kiln.url, 'mutation { updateBackupSchedule(input: { frequency: DAILY }) { nextBackupAt } }', {}, s.token);
  expect(saved.errors).toBeUndefined();
  try {
    const before = await fires();
    // Second 30 of this minute: a fire of a fast custom cron an instance may still have armed, never of the daily one.
    await s.kiln.scheduler.fire('BACKUP', new Date(Math.floor(Date.now() / 60_000) * 60_000 + 30_000), 'timer');
    expect(await fires()).toEqual(before);
    await s.kiln.scheduler.fire('BACKUP', new Date(saved.data!.updateBackupSchedule.nextBackupAt), 'timer');
    expect(await fires()).toEqual({ claims: before.claims + 1, jobs: before.jobs + 1 });
    const [run] = (await s.db.query(`SELECT "jobId" FROM kiln_schedule_runs WHERE kind = 'BACKUP'`)).rows;
    await finishedJob(s, run.jobId);
  } finally {
    await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { frequency: DISABLED }) { frequency } }', {}, s.token);
  }
});

it("the schedule's version changes with the company's time zone, so every instance re-arms its timers in it (a schedule with no zone of its own fires there)", async () => {
  const version = () => s.kiln.services.schedule.version();
  const before = await version();
  const [company] = (await s.db.query(`SELECT id, timezone FROM "CompanySetting" LIMIT 1`)).rows;
  expect(company).toBeDefined();
  try {
    await s.db.query(`UPDATE "CompanySetting" SET timezone = $2 WHERE id = $1`, [company.id, company.timezone === 'Europe/London' ? 'Africa/Lagos' : 'Europe/London']);
    expect(await version()).not.toBe(before);
  } finally {
    await s.db.query(`UPDATE "CompanySetting" SET timezone = $2 WHERE id = $1`, [company.id, company.timezone]);
  }
  expect(await version()).toBe(before);
});
