import { BackupScheduler } from '../src/schedule/backup-scheduler';
import { ScheduleClaims } from '../src/schedule/schedule-claims';
import { createLogger } from '../src/logging/logger';
import { startSeededKiln, startBackup, finishedJob, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { gql } from './support/test-kiln';
import { until } from './support/until';
import { nextFireTimes } from '../src/schedule/cron-math';

/*
 * What the scheduler repairs on its polls, on a real gateway and database:
 * missed fires (clock jumps, every instance down), claims and backups left by
 * dead instances, and a fire that meets a busy job lease (it queues). Each test drives a
 * second scheduler ("the other instance") through tick(), with its own clock; the gateway's
 * job reaper is swept by hand where a test needs a dead job failed.
 */

const UPDATE = `mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { frequency cron } }`;
const MINUTE = 60_000;

let s: SeededKiln;
const schedulers: BackupScheduler[] = [];

function otherInstance(name: string, options: { now?: () => Date; withRetention?: boolean } = {}) {
  const { services, dataSource } = s.kiln;
  const scheduler = new BackupScheduler(
    services.schedule,
    services.backups,
    services.jobs,
    new ScheduleClaims(dataSource, name),
    options.withRetention ? services.retention : undefined,
    createLogger(process.env.KILN_TEST_LOG_LEVEL ?? 'silent'),
    { pollMs: 1000, claimTtlMs: 3000, ...options },
  );
  schedulers.push(scheduler);
  return scheduler;
}

const runs = async () =>
  (await s.db.query(`SELECT kind, "scheduledFor", "claimedBy", "claimedAt", "jobId", "backupId", attempts FROM kiln_schedule_runs ORDER BY "scheduledFor"`)).rows;
const scheduledBackups = async () =>
  (await s.db.query(`SELECT id, upper(status) AS status, error FROM backup_records WHERE type = 'scheduled' ORDER BY "createdAt"`)).rows;
const noJobRunning = () =>
  until('no queued or running job', async () => (await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rows[0].n, (n) => n === 0);
const jobRow = async (id: string) => (await s.db.query(`SELECT status, error, "errorCode", "instanceId" FROM kiln_jobs WHERE id = $1`, [id])).rows[0];

async function setSchedule(input: Record<string, unknown>, updatedAgoMs = 0) {
  const res = await gql(s.kiln.url, UPDATE, { i: input }, s.token);
  expect(res.errors).toBeUndefined();
  if (updatedAgoMs) {
    // The update makes the gateway's own scheduler poll once; back-date only after it has read the
    // row, so that (polling every 5 minutes) it stays out of what the test's instances do.
    await s.kiln.scheduler.idle();
    await s.db.query(`UPDATE backup_schedule_settings SET "updatedAt" = now() - make_interval(secs => $1), "lastBackupAt" = NULL`, [updatedAgoMs / 1000]);
    await s.db.query(`UPDATE kiln_schedule_settings SET "updatedAt" = now() - make_interval(secs => $1)`, [updatedAgoMs / 1000]);
  }
}

beforeAll(async () => {
  s = await startSeededKiln(5, { SCHEDULE_MIN_INTERVAL_SECONDS: '60', SCHEDULE_POLL_SECONDS: '300' });
});
/**
 * The tests set hourly schedules and read the hour marks off the wall clock; a real hourly fire
 * landing mid-test would add a run none of them expects (seen at 10:59:59.98). Starting within
 * 30 s of a mark, a test waits for it to pass first.
 */
async function clearOfHourMark() {
  const untilMark = 60 * MINUTE - (Date.now() % (60 * MINUTE));
  if (untilMark > 30_000) return;
  const after = Date.now() + untilMark + 1000;
  await until('the hour mark to pass', async () => Date.now(), (t) => t >= after, untilMark + 5000, 100);
}

beforeEach(async () => {
  await clearOfHourMark();
  await setSchedule({ frequency: 'DISABLED' });
  // The update makes the gateway's own scheduler poll once: let it finish before claims are planted.
  await s.kiln.scheduler.idle();
  await s.db.query(`DELETE FROM kiln_schedule_runs`);
  await s.db.query(`DELETE FROM backup_records WHERE type = 'scheduled'`);
});
afterEach(async () => {
  for (const scheduler of schedulers.splice(0)) await scheduler.stop();
  await noJobRunning();
});
afterAll(async () => s?.close());

describe('a missed fire', () => {
  it('runs once when every instance was down at the scheduled time, not once per missed fire', async () => {
    // Hourly for the last three hours, with nobody up to run it.
    await setSchedule({ frequency: 'HOURLY', timezone: 'Africa/Lagos' }, 3 * 60 * MINUTE);
    const lastHour = new Date(Math.floor(Date.now() / (60 * MINUTE)) * 60 * MINUTE);
    const a = otherInstance('a');
    const b = otherInstance('b');
    await Promise.all([a.start(), b.start()]);
    await until('the catch-up run recorded', runs, (r) => r.length === 1 && r[0].jobId);
    const [run] = await runs();
    // The latest hour mark; or the one before, if an instance whose long poll gives timers more
    // grace (the gateway's own: 10 minutes) judged first, minutes after the hour.
    expect([lastHour.toISOString(), new Date(lastHour.getTime() - 60 * MINUTE).toISOString()]).toContain(run.scheduledFor.toISOString());
    await noJobRunning();
    expect(await scheduledBackups()).toEqual([expect.objectContaining({ id: run.backupId, status: 'COMPLETED' })]);
    // Later polls on both find it claimed: nothing more.
    await Promise.all([a.tick(), b.tick()]);
    expect(await runs()).toHaveLength(1);
  });

  it('is covered by a catch-up run that started after it, even one made for an earlier fire', async () => {
    await setSchedule({ frequency: 'HOURLY' }, 3 * 60 * MINUTE);
    // Another instance (with a longer poll, so more grace for timers) just caught up the fire before the last.
    const lastHour = Math.floor(Date.now() / (60 * MINUTE)) * 60 * MINUTE;
    await s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "jobId") VALUES ('BACKUP', $1::timestamptz AT TIME ZONE 'UTC', 'slow-poller', 'j')`,
      [new Date(lastHour - 60 * MINUTE).toISOString()],
    );
    await otherInstance('a').tick();
    expect(await runs()).toHaveLength(1);
  });

  it('is not made up for a schedule that did not exist at that time', async () => {
    await setSchedule({ frequency: 'HOURLY' });
    const a = otherInstance('a');
    await a.start();
    await a.tick();
    expect(await runs()).toEqual([]);
  });

  it('is not made up at the second of a wall time that happens twice, when it ran at the first', async () => {
    // Sydney's next autumn change (first Sunday of April): 02:30 happens at 02:30 AEDT, then again an hour later at
    // 02:30 AEST. node-schedule fires at the first; a catch-up judged by the second would run a backup again.
    await setSchedule({ frequency: 'CUSTOM', cron: '30 2 * * *', timezone: 'Australia/Sydney' }, 60 * MINUTE);
    const fires = nextFireTimes('30 2 * * *', 'Australia/Sydney', new Date(Date.UTC(new Date().getUTCFullYear() + 1, 3, 1)), 8);
    // The change day's fire, at 02:30 AEDT: the one followed by a 25-hour day.
    const first = fires.find((at, i) => at.getTime() + 25 * 60 * MINUTE === fires[i + 1]?.getTime())!;
    await s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "jobId") VALUES ('BACKUP', $1::timestamptz AT TIME ZONE 'UTC', 'on-time', 'j')`,
      [first.toISOString()],
    );
    // Twenty minutes after the second 02:30, past any grace.
    const a = otherInstance('a', { now: () => new Date(first.getTime() + 80 * MINUTE) });
    await a.tick();
    await a.stop(); // waits for any fire the poll started
    expect((await runs()).map((r) => r.scheduledFor.toISOString())).toEqual([first.toISOString()]);
  });

  it('runs once when the clock jumps forward past several fires', async () => {
    // Monthly (1st, 00:00 in Lagos, UTC+1 all year): no real fire during the test.
    await setSchedule({ frequency: 'CUSTOM', cron: '0 0 1 * *', timezone: 'Africa/Lagos' });
    let jump = 0;
    const a = otherInstance('a', { now: () => new Date(Date.now() + jump) });
    await a.start();
    await a.tick();
    expect(await runs()).toEqual([]);
    jump = 100 * 24 * 60 * MINUTE;
    await a.tick();
    await a.tick();
    await until('the catch-up run', runs, (r) => r.length === 1 && r[0].jobId);
    const [run] = await runs();
    // The latest 1st-of-month before the jumped clock, reckoned by hand; not the skipped ones.
    const lagos = new Date(Date.now() + jump + 60 * MINUTE);
    let expected = Date.UTC(lagos.getUTCFullYear(), lagos.getUTCMonth(), 1) - 60 * MINUTE;
    if (expected > Date.now() + jump - 10_000) expected = Date.UTC(lagos.getUTCFullYear(), lagos.getUTCMonth() - 1, 1) - 60 * MINUTE;
    expect(run.scheduledFor.toISOString()).toBe(new Date(expected).toISOString());
    await noJobRunning();
    expect(await scheduledBackups()).toHaveLength(1);
    expect(await runs()).toHaveLength(1);
  });
});

describe('a dead instance', () => {
  it('that claimed a fire and never started it: another takes the claim over', async () => {
    await setSchedule({ frequency: 'HOURLY' });
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 30_000);
    await s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "claimedAt") VALUES ('BACKUP', $1::timestamptz AT TIME ZONE 'UTC', 'dead', now() - interval '1 minute')`,
      [at.toISOString()],
    );
    const a = otherInstance('a');
    await a.tick();
    const [run] = await until('the taken-over run', runs, (r) => r[0]?.jobId);
    // Whichever live instance won the takeover (the gateway's own scheduler polls on updates too).
    expect(run.claimedBy).not.toBe('dead');
    expect(run.attempts).toBe(1);
    await noJobRunning();
    expect(await scheduledBackups()).toEqual([expect.objectContaining({ id: run.backupId, status: 'COMPLETED' })]);
  });

  it('whose claim is fresh (its job not started yet): left alone', async () => {
    await s.db.query(`INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy") VALUES ('BACKUP', now() - interval '10 seconds', 'alive')`);
    await otherInstance('a').tick();
    expect(await runs()).toEqual([expect.objectContaining({ claimedBy: 'alive', jobId: null })]);
  });

  it('that died mid-backup: the job is failed as interrupted and the fire re-run once elsewhere', async () => {
    await setSchedule({ frequency: 'HOURLY' });
    // A scheduled backup whose gateway "died": it stopped heart-beating long ago.
    const dead = await whileTableLocked(s, async () => {
      const { jobId, backupId } = await startBackup(s);
      await s.db.query(`UPDATE backup_records SET type = 'scheduled' WHERE id = $1`, [backupId]);
      await s.db.query(`UPDATE kiln_backup_details SET kind = 'SCHEDULED' WHERE id = $1`, [backupId]);
      await s.db.query(
        `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "jobId", "backupId") VALUES ('BACKUP', now() - interval '1 minute', 'dead', $1, $2)`,
        [jobId, backupId],
      );
      // Stop this instance's own heartbeat from keeping it alive, then age it.
      await s.kiln.services.jobs.cancel(jobId);
      return { jobId, backupId };
    });
    await finishedJob(s, dead.jobId);
    await s.db.query(`UPDATE kiln_jobs SET status = 'RUNNING', error = NULL, "heartbeatAt" = now() - interval '1 hour' WHERE id = $1`, [dead.jobId]);
    await s.db.query(`UPDATE backup_records SET status = 'in_progress', error = NULL WHERE id = $1`, [dead.backupId]);

    const a = otherInstance('a');
    await s.kiln.reaper.reap(); // what every instance's job reaper does twice per lease TTL
    await a.tick();
    const [run] = await until('the re-run', runs, (r) => r[0]?.jobId && r[0].jobId !== dead.jobId);
    expect(run.claimedBy).not.toBe('dead');
    expect(run.attempts).toBe(2);
    const job = await jobRow(dead.jobId);
    expect(job).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^interrupted: /), errorCode: 'INTERRUPTED' });
    await noJobRunning();
    const backups = await scheduledBackups();
    expect(backups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: dead.backupId, status: 'FAILED' }),
        expect.objectContaining({ id: run.backupId, status: 'COMPLETED' }),
      ]),
    );
    // Interrupted again? Not re-run a third time.
    await s.db.query(`UPDATE kiln_jobs SET status = 'FAILED', error = 'interrupted: test', "errorCode" = 'INTERRUPTED' WHERE id = $1`, [run.jobId]);
    await a.tick();
    expect(await runs()).toEqual([expect.objectContaining({ jobId: run.jobId, attempts: 2 })]);
  });

  it('only the latest fire is taken over: older ones are covered by the fires after them', async () => {
    await s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "claimedAt")
       VALUES ('BACKUP', now() - interval '2 hours', 'dead', now() - interval '2 hours'),
              ('BACKUP', now() - interval '1 hour', 'alive', now() - interval '1 hour')`,
    );
    await s.db.query(`UPDATE kiln_schedule_runs SET "jobId" = 'done' WHERE "claimedBy" = 'alive'`);
    await otherInstance('a').tick();
    expect((await runs()).map((r) => r.claimedBy)).toEqual(['dead', 'alive']);
  });

  it('a scheduled backup that failed on its own is not re-run', async () => {
    const { jobId, backupId } = await startBackup(s);
    await finishedJob(s, jobId);
    await s.db.query(`UPDATE kiln_jobs SET status = 'FAILED', error = 'disk full' WHERE id = $1`, [jobId]);
    await s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "jobId", "backupId") VALUES ('BACKUP', now() - interval '1 minute', 'dead', $1, $2)`,
      [jobId, backupId],
    );
    await otherInstance('a').tick();
    expect(await runs()).toEqual([expect.objectContaining({ claimedBy: 'dead', jobId, attempts: 1 })]);
  });
});

describe('a fire while another job holds the lease', () => {
  const staleClaim = () =>
    s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "claimedAt") VALUES ('BACKUP', now() - interval '1 minute', 'dead', now() - interval '1 minute')`,
    );

  it('queues its backup behind it and is done: the claim holds the QUEUED job, which runs when the lease frees', async () => {
    const a = otherInstance('a');
    const queued = await whileTableLocked(s, async () => {
      const manual = await startBackup(s);
      await staleClaim();
      await a.tick();
      const [run] = await until('the fire to record its job', runs, (r) => r[0]?.jobId);
      expect(run).toMatchObject({ claimedBy: 'a', backupId: expect.any(String) });
      expect(await jobRow(run.jobId)).toMatchObject({ status: 'QUEUED' });
      expect((await jobRow(manual.jobId)).status).toBe('RUNNING');
      // Nothing is left to take over: a third instance leaves the claim alone.
      await otherInstance('c').tick();
      expect((await runs())[0]).toMatchObject({ claimedBy: 'a', jobId: run.jobId, attempts: 1 });
      // The fire is over: stopping its scheduler does not wait for the job, nor drop it.
      await a.stop();
      expect(await jobRow(run.jobId)).toMatchObject({ status: 'QUEUED' });
      return run;
    });
    const job = await finishedJob(s, queued.jobId);
    expect(job).toMatchObject({ status: 'COMPLETED', backup: { id: queued.backupId, status: 'COMPLETED' } });
    expect(await scheduledBackups()).toEqual([expect.objectContaining({ id: queued.backupId, status: 'COMPLETED' })]);
  });

  it('a queued backup whose gateway died is failed as interrupted, and the fire re-run once elsewhere', async () => {
    // A fire another gateway queued (its job waiting for the lease, kept alive by that gateway).
    await s.db.query(
      `INSERT INTO kiln_jobs (id, kind, status, "backupId", "instanceId", "createdAt", "heartbeatAt")
       VALUES ('queued-on-dead', 'BACKUP', 'QUEUED', 'never-written', 'dead', now() - interval '1 hour', now())`,
    );
    await s.db.query(
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy", "claimedAt", "jobId", "backupId")
       VALUES ('BACKUP', now() - interval '1 hour', 'dead', now() - interval '1 hour', 'queued-on-dead', 'never-written')`,
    );
    // Nothing to re-run while the job is still QUEUED.
    const a = otherInstance('a');
    await a.tick();
    expect(await runs()).toEqual([expect.objectContaining({ claimedBy: 'dead', jobId: 'queued-on-dead', attempts: 1 })]);

    // That gateway dies: its queued job stops heart-beating.
    await s.db.query(`UPDATE kiln_jobs SET "heartbeatAt" = now() - interval '1 hour' WHERE id = 'queued-on-dead'`);
    await s.kiln.reaper.reap();
    expect(await jobRow('queued-on-dead')).toMatchObject({ status: 'FAILED', errorCode: 'INTERRUPTED', error: expect.stringMatching(/^interrupted: .*queued/) });
    await a.tick();
    const [run] = await until('the re-run', runs, (r) => r[0]?.jobId && r[0].jobId !== 'queued-on-dead');
    expect(run).toMatchObject({ claimedBy: 'a', attempts: 2 });
    await noJobRunning();
    expect(await scheduledBackups()).toEqual([expect.objectContaining({ id: run.backupId, status: 'COMPLETED' })]);
  });
});

describe('retention started by the scheduler', () => {
  const retentionJobs = async () => (await s.db.query(`SELECT id, status, message FROM kiln_jobs WHERE kind = 'RETENTION' ORDER BY "createdAt"`)).rows;
  beforeEach(() => s.db.query(`DELETE FROM kiln_jobs WHERE kind = 'RETENTION'`));

  it('runs after a scheduled backup completes and prunes what is past retentionDays', async () => {
    // Four manual backups, two of them 40 days old; keepAtLeast 3 leaves room to prune both.
    const made = [];
    for (let i = 0; i < 4; i++) {
      const { jobId, backupId } = await startBackup(s);
      await finishedJob(s, jobId);
      made.push(backupId);
    }
    await s.db.query(`UPDATE backup_records SET "createdAt" = now() - interval '40 days' WHERE id = ANY($1)`, [made.slice(0, 2)]);
    await setSchedule({ frequency: 'HOURLY', retentionDays: 30, keepAtLeast: 3 }, 3 * 60 * MINUTE);
    await otherInstance('a', { withRetention: true }).start();
    const [job] = await until('a finished retention run', retentionJobs, (r) => r.length === 1 && r[0].status === 'COMPLETED');
    expect(job.message).toMatch(/^Deleted 2 backup/);
    const left = (await s.db.query(`SELECT id FROM backup_records WHERE id = ANY($1)`, [made])).rows.map((r) => r.id);
    expect(left.sort()).toEqual(made.slice(2).sort());
  });

  it('runs daily exactly once however many instances fire', async () => {
    await setSchedule({ frequency: 'DAILY' });
    const at = new Date('2026-11-30T02:00:00.000Z');
    const fire = (scheduler: BackupScheduler) => scheduler.fire('RETENTION', at, 'timer');
    await Promise.all([fire(otherInstance('a', { withRetention: true })), fire(otherInstance('b', { withRetention: true }))]);
    const [run] = await runs();
    expect(run).toMatchObject({ kind: 'RETENTION', jobId: expect.any(String) });
    expect(await retentionJobs()).toEqual([expect.objectContaining({ id: run.jobId })]);
  });
});
