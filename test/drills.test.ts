/**
 * Scheduled restore drills: the schedule's drill frequency (quarterly by default), a fast custom
 * drill cron fired exactly once per instant across three instances (one DRILL job per claim, one
 * drill.completed webhook each), its result kept on the job; health flags a failed drill and a
 * drill schedule without a success for two periods; bad drill settings are refused.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startReceiver, type Receiver } from './support/webhook-receiver';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { errorCode, gql, startTestKiln, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

const SECRET = 'drill-webhook-secret-0123456789';
const FAST = { SCHEDULE_MIN_INTERVAL_SECONDS: '1', SCHEDULE_POLL_SECONDS: '1' };
const SCHEDULE = '{ backupSchedule { drillFrequency drillCron nextDrillAt } }';
const SET = 'mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { drillFrequency drillCron nextDrillAt } }';

let s: SeededKiln;
let receiver: Receiver;
const others: TestKiln[] = [];
/** The drill schedule as the new gateway had it, read before any test changed it. */
let initial: { drillFrequency: string; drillCron: string | null; nextDrillAt: string | null };
beforeAll(async () => {
  receiver = await startReceiver(SECRET);
  const env = { ...FAST, BACKUP_WEBHOOK_URL: receiver.url, BACKUP_WEBHOOK_SECRET: SECRET };
  s = await startSeededKiln(10, env);
  initial = (await gql(s.kiln.url, SCHEDULE, {}, s.token)).data!.backupSchedule;
  for (let i = 0; i < 2; i++) others.push(await startTestKiln({ ...env, DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl));
});
afterAll(async () => {
  for (const k of others) await k.close();
  await s?.close();
  await receiver?.close();
});

const set = (input: Record<string, unknown>) => gql(s.kiln.url, SET, { i: input }, s.token);
// One drill schedule for all these tests: each leaves it as the new gateway had it, whatever it set.
afterEach(async () => {
  expect((await set({ drillFrequency: initial.drillFrequency })).errors).toBeUndefined();
});
const problems = async () => (await gql(s.kiln.url, '{ backupHealth { problems } }', {}, s.token)).data!.backupHealth.problems as string[];
/** Drills off, and every drill fired so far finished (a fire's claim always gets its job). */
async function drillsOff() {
  expect((await set({ drillFrequency: 'DISABLED' })).errors).toBeUndefined();
  await until(
    'every drill to finish',
    async () => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_schedule_runs r LEFT JOIN kiln_jobs j ON j.id = r."jobId" WHERE r.kind = 'DRILL' AND (r."jobId" IS NULL OR j."finishedAt" IS NULL)`)).rows[0].n,
    (n) => n === 0,
    60_000,
    50,
  );
}

it('drills quarterly by default, and shows when the next one is', () => {
  expect(initial).toMatchObject({ drillFrequency: 'QUARTERLY', drillCron: '0 4 1 1,4,7,10 *' });
  expect(new Date(initial.nextDrillAt!).getTime()).toBeGreaterThan(Date.now());
});

it('fires a fast custom drill once per instant across three instances; each result is kept and announced once', async () => {
  // The drills (jobs, claims, announcements) of the tests that ran before are theirs: this test counts its own.
  const earlier: string[] = (await s.db.query(`SELECT coalesce(array_agg(id), '{}') AS ids FROM kiln_jobs WHERE kind = 'DRILL'`)).rows[0].ids;
  const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  expect((await set({ drillFrequency: 'CUSTOM', drillCron: '*/2 * * * * *' })).errors).toBeUndefined();
  await until(
    'two drills to complete',
    async () => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE kind = 'DRILL' AND status = 'COMPLETED' AND id <> ALL($1)`, [earlier])).rows[0].n,
    (n) => n >= 2,
    60_000,
    50,
  );
  await drillsOff();

  // One snapshot of claims and jobs: every DRILL job belongs to exactly one claimed instant.
  const { rows } = await s.db.query(
    `SELECT
      (SELECT count(*)::int FROM kiln_schedule_runs WHERE kind = 'DRILL' AND ("jobId" IS NULL OR "jobId" <> ALL($1))) AS claims,
      (SELECT count(DISTINCT "jobId")::int FROM kiln_schedule_runs WHERE kind = 'DRILL' AND "jobId" <> ALL($1)) AS "claimedJobs",
      (SELECT count(*)::int FROM kiln_jobs WHERE kind = 'DRILL' AND id <> ALL($1)) AS jobs`,
    [earlier],
  );
  expect(rows[0].claims).toBeGreaterThanOrEqual(2);
  expect([rows[0].claimedJobs, rows[0].jobs]).toEqual([rows[0].claims, rows[0].claims]);

  const jobs = (await s.db.query(`SELECT id, status, "backupId", verification FROM kiln_jobs WHERE kind = 'DRILL' AND id <> ALL($1)`, [earlier])).rows;
  for (const job of jobs) {
    expect(job).toMatchObject({ status: 'COMPLETED', backupId: backup.id, verification: { ok: true } });
    expect(job.verification.checks.map((c: { name: string }) => c.name)).toContain('restore drill: loads into a scratch schema');
  }
  // Announced by the instance that ran each drill, once.
  const announced = await until(
    'a drill.completed per drill',
    async () => receiver.deliveries.filter((d) => d.body?.type === 'drill.completed' && !earlier.includes(d.body.data.jobId)),
    (d) => d.length >= jobs.length,
    20_000,
    50,
  );
  expect(announced.map((d) => d.body.data.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
  expect(announced[0].body.data).toMatchObject({ backupId: backup.id, filename: backup.filename });
  expect((await problems()).filter((p) => p.includes('drill'))).toEqual([]);
});

it('flags a drill that found the newest backup bad, while drills are on, until a good one follows', async () => {
  const bad = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  writeFileSync(path.join(s.kiln.backupDir, bad.filename), 'damaged');
  const failed = await s.kiln.services.verify.scheduledDrill();
  await s.kiln.services.jobs.settled(failed.id);
  expect(await problems()).toContainEqual(expect.stringMatching(/^The last restore drill failed \(.+\): \d+ of \d+ checks failed$/));
  // This drill's: another test's drill may have failed too (one with no backup to check has no checks).
  const drillFailed = await until('drill.failed', async () => receiver.find('drill.failed', (data) => data.jobId === failed.id)[0], (d) => d !== undefined, 20_000, 50);
  expect(drillFailed!.body.data.checks.some((c: { passed: boolean }) => !c.passed)).toBe(true);
  // Anonymous monitors get the problem, not the job's error.
  const monitor = (await (await fetch(`${s.kiln.url}/health/backups`)).json()) as { problems: string[]; problemCodes: string[] };
  expect(monitor.problems).toContain('The last restore drill failed');
  expect(monitor.problemCodes).toContain('DRILL_FAILED');
  // With drills off nothing could clear it: not a problem then.
  await set({ drillFrequency: 'DISABLED' });
  expect((await problems()).filter((p) => p.includes('drill'))).toEqual([]);
  await set({ drillFrequency: 'QUARTERLY' });
  expect(await problems()).toContainEqual(expect.stringMatching(/^The last restore drill failed/));

  await finishedJob(s, (await startBackup(s)).jobId);
  const good = await s.kiln.services.verify.scheduledDrill();
  await s.kiln.services.jobs.settled(good.id);
  expect((await problems()).filter((p) => p.includes('drill'))).toEqual([]);
});

it('re-runs, once and on a live instance, a scheduled drill whose instance died mid-way', async () => {
  await finishedJob(s, (await startBackup(s)).jobId);
  // The latest drill fire, claimed by an instance that is gone; its job failed as interrupted. Later than
  // any real fire: the fast custom drills of the test before may have claimed this very second.
  await s.db.query(`INSERT INTO kiln_jobs (id, kind, status, error, "errorCode", "startedAt", "finishedAt") VALUES ('dead-drill', 'DRILL', 'FAILED', 'interrupted: the gateway running it stopped before it finished', 'INTERRUPTED', LOCALTIMESTAMP, LOCALTIMESTAMP)`);
  await s.db.query(
    `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "jobId")
     SELECT 'DRILL', greatest(date_trunc('second', LOCALTIMESTAMP), max("scheduledFor") + interval '1 second'), 'dead-instance', 'dead-drill' FROM kiln_schedule_runs WHERE kind = 'DRILL'`,
  );
  const claim = async () => (await s.db.query(`SELECT "jobId", attempts, "claimedBy" FROM kiln_schedule_runs WHERE kind = 'DRILL' ORDER BY "scheduledFor" DESC LIMIT 1`)).rows[0];
  const retaken = await until('another instance to take the drill over', claim, (c) => c.jobId !== null && c.jobId !== 'dead-drill', 30_000, 50);
  expect(retaken.attempts).toBe(2);
  expect(retaken.claimedBy).not.toBe('dead-instance');
  const job = await until('the new drill to finish', async () => (await s.db.query(`SELECT status, verification FROM kiln_jobs WHERE id = $1`, [retaken.jobId])).rows[0], (j) => j?.status !== 'RUNNING' && j?.status !== 'QUEUED', 30_000, 50);
  expect(job).toMatchObject({ status: 'COMPLETED', verification: { ok: true } });
});

it('records a drill with no completed backup to check as failed', async () => {
  await s.db.query(`UPDATE backup_records SET status = 'failed' WHERE status = 'completed'`);
  try {
    const job = await s.kiln.services.verify.scheduledDrill();
    await s.kiln.services.jobs.settled(job.id);
    expect(await s.kiln.services.jobs.get(job.id)).toMatchObject({ kind: 'DRILL', status: 'FAILED', errorCode: 'CONFLICT', error: expect.stringMatching(/no completed backup to drill/) });
  } finally {
    await s.db.query(`UPDATE backup_records SET status = 'completed' WHERE status = 'failed' AND error IS NULL`);
  }
});

it('flags a drill schedule that has had no successful drill for two periods', async () => {
  // A drill that succeeds now, on a backup of this test's own: the recent success the check starts from.
  await finishedJob(s, (await startBackup(s)).jobId);
  const drill = await s.kiln.services.verify.scheduledDrill();
  await s.kiln.services.jobs.settled(drill.id);
  expect(await s.kiln.services.jobs.get(drill.id)).toMatchObject({ status: 'COMPLETED', verification: { ok: true } });
  expect((await set({ drillFrequency: 'WEEKLY' })).errors).toBeUndefined();
  const flagged = () => problems().then((p) => p.find((x) => x.includes('No restore drill has succeeded')));
  // In force for a day: two weekly fires back it did not exist yet.
  expect(await flagged()).toBeUndefined();
  await s.db.query(`UPDATE kiln_schedule_settings SET "updatedAt" = now() - interval '30 days', "drillSince" = now() - interval '30 days'`);
  await s.db.query(`UPDATE backup_schedule_settings SET "updatedAt" = now() - interval '30 days'`);
  // The drills so far are recent: still fine. Pushed back 20 days, they are too old.
  expect(await flagged()).toBeUndefined();
  const moved = await s.db.query(`UPDATE kiln_jobs SET "finishedAt" = "finishedAt" - interval '20 days' WHERE kind = 'DRILL' RETURNING id`);
  try {
    expect(await flagged()).toMatch(/^No restore drill has succeeded within two periods of the WEEKLY drill schedule \(last success .+, expected one since .+\)$/);
    await set({ drillFrequency: 'DISABLED' });
    expect(await flagged()).toBeUndefined();
  } finally {
    await s.db.query(`UPDATE kiln_jobs SET "finishedAt" = "finishedAt" + interval '20 days' WHERE id = ANY($1)`, [moved.rows.map((r) => r.id)]);
  }
});

it.each([
  ['CUSTOM without a cron', { drillFrequency: 'CUSTOM' }, /drillCron is required/],
  ['a cron with a fixed frequency', { drillFrequency: 'MONTHLY', drillCron: '0 5 * * *' }, /drillCron applies only to drillFrequency CUSTOM/],
  ['a cron that is no cron', { drillFrequency: 'CUSTOM', drillCron: 'every tuesday' }, /drillCron/],
])('refuses %s as BAD_USER_INPUT and keeps the schedule', async (_what, input, message) => {
  const before = (await gql(s.kiln.url, SCHEDULE, {}, s.token)).data!.backupSchedule;
  const res = await set(input);
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
  expect(res.errors![0].message).toMatch(message);
  expect((await gql(s.kiln.url, SCHEDULE, {}, s.token)).data!.backupSchedule).toEqual(before);
});

it('runs no drill for a timer of a drill schedule changed since (an instance that has not yet heard of the change)', async () => {
  await finishedJob(s, (await startBackup(s)).jobId);
  const drills = async () => (await s.db.query(`SELECT (SELECT count(*)::int FROM kiln_schedule_runs WHERE kind = 'DRILL') AS claims, (SELECT count(*)::int FROM kiln_jobs WHERE kind = 'DRILL') AS jobs`)).rows[0];
  const before = await drills();
  // Second 30 of this minute: a fire of the fast custom cron an instance may still have armed, never of the quarterly one.
  await s.kiln.scheduler.fire('DRILL', new Date(Math.floor(Date.now() / 60_000) * 60_000 + 30_000), 'timer');
  expect(await drills()).toEqual(before);
});
