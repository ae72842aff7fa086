import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startKilnProcess, type KilnProcess } from './support/kiln-process';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { freshDatabase } from './support/test-database';
import { TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET } from './support/test-kiln';
import { until } from './support/until';
import { whileTableLocked } from './support/seeded-kiln';

/*
 * Three gateways in their own processes on one database, as in production:
 * every scheduled fire makes exactly one backup, and when the instance running
 * a scheduled backup is killed, another one takes the fire over.
 */

const EVERY_SECONDS = 4;
// Each test's own database and three instances (beforeEach): a fire, backup or killed instance of one test is never another's.
let url: string;
let db: Client;
let instances: KilnProcess[] = [];

async function startInstance(): Promise<KilnProcess> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-instance-'));
  const instance = await startKilnProcess({
    DATABASE_URL: url,
    JWT_SECRET: TEST_JWT_SECRET,
    BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY,
    DATA_DIR: dataDir,
    BACKUP_DIR: path.join(dataDir, 'backups'),
    SCHEDULE_MIN_INTERVAL_SECONDS: '1',
    SCHEDULE_POLL_SECONDS: '1',
    JOB_LEASE_TTL_SECONDS: '3',
  });
  instances.push(instance);
  return instance;
}

async function setSchedule(frequency: string, cron: string | null) {
  // Written as the app and Kiln write them: the app's row in lowercase, Kiln's additions beside it.
  await db.query(
    `INSERT INTO backup_schedule_settings (id, frequency, location, "updatedAt") VALUES ('default', lower($1), 'local', now())
     ON CONFLICT (id) DO UPDATE SET frequency = lower($1), "updatedAt" = now()`,
    [frequency],
  );
  await db.query(
    `INSERT INTO kiln_schedule_settings (id, cron, timezone, "updatedAt") VALUES ('default', $1, 'Africa/Lagos', now())
     ON CONFLICT (id) DO UPDATE SET cron = $1, "updatedAt" = now()`,
    [cron],
  );
}

const runs = async () =>
  (await db.query(`SELECT "scheduledFor", "claimedBy", "jobId", "backupId", attempts FROM kiln_schedule_runs WHERE kind = 'BACKUP' ORDER BY "scheduledFor"`)).rows;
const scheduledBackups = async () =>
  (await db.query(`SELECT b.id, upper(b.status) AS status, b.error, j."instanceId" FROM backup_records b JOIN kiln_backup_details d ON d.id = b.id LEFT JOIN kiln_jobs j ON j.id = d."jobId" WHERE b.type = 'scheduled'`)).rows;
const settled = () =>
  until('every scheduled backup to settle', scheduledBackups, (rows) => rows.every((r) => r.status !== 'IN_PROGRESS'), 60_000);

/** Whether the instance's timers are off: its last word on them was that scheduled backups are off. */
function timersOff(instance: KilnProcess): boolean {
  const said = instance.logs.filter((l) => l.event === 'schedule_disabled' || (l.event === 'schedule_armed' && l.kind === 'BACKUP'));
  return said.length === 0 || said[said.length - 1].event === 'schedule_disabled';
}

/** Turns the schedule off and waits until no instance will start anything more. */
async function stopSchedule() {
  await setSchedule('DISABLED', null);
  await until('every instance to turn its timers off', async () => instances.map(timersOff), (off) => off.every(Boolean), 30_000);
  await until('claimed fires to start', runs, (rows) => rows.every((r) => r.jobId || r.backupId), 60_000);
  await settled();
}

beforeEach(async () => {
  instances = [];
  url = await freshDatabase(`kiln_test_instances_${process.env.JEST_WORKER_ID ?? '1'}`, { migrated: true });
  db = new Client({ connectionString: url });
  await db.connect();
  // The first instance makes the admin (two at once would race to); then demo data to back up.
  await startInstance();
  await seedDemoData(db, { members: 20, seed: 7 });
  await Promise.all([startInstance(), startInstance()]);
}, 120_000);
afterEach(async () => {
  for (const instance of instances) instance.child.kill('SIGTERM');
  await Promise.all(instances.map((i) => i.exited));
  await db?.end();
});

it('three instances make exactly one backup per fire', async () => {
  await setSchedule('CUSTOM', `*/${EVERY_SECONDS} * * * * *`);
  // Three fires, each claimed by whichever instance's INSERT wins: a double would show on any.
  await until('three fires', runs, (rows) => rows.length >= 3, 60_000);
  await stopSchedule();

  const fires = await runs();
  const backups = await scheduledBackups();
  // One backup per fire, one fire per backup, all good.
  expect(fires.every((f) => f.backupId && f.attempts === 1)).toBe(true);
  expect(new Set(fires.map((f) => f.backupId)).size).toBe(fires.length);
  expect(backups.map((b) => b.id).sort()).toEqual(fires.map((f) => f.backupId).sort());
  expect(backups.every((b) => b.status === 'COMPLETED')).toBe(true);
  // Consecutive fires, none skipped: the gaps are exactly the period.
  for (let i = 1; i < fires.length; i++) {
    expect(fires[i].scheduledFor.getTime() - fires[i - 1].scheduledFor.getTime()).toBe(EVERY_SECONDS * 1000);
  }
  // Whichever instance's INSERT won: the claimers are our instances.
  const pids = new Set(instances.map((i) => String(i.child.pid)));
  expect(fires.every((f) => pids.has(f.claimedBy.split(':')[1]))).toBe(true);

  // Fire-time accuracy, from the instances' own logs (scheduled vs actual start).
  const lags = instances.flatMap((i) => i.logs.filter((l) => l.event === 'scheduled_backup_started').map((l) => l.lagMs as number));
  expect(lags).toHaveLength(fires.length);
}, 120_000);

it('when the instance running a scheduled backup is killed, another takes the fire over', async () => {
  // Hold the next scheduled backup in its export, so we know who runs it.
  const victimJob = await whileTableLocked(url, async () => {
    // One fire a minute, due in a few seconds: one fire only. Only the latest fire is taken over (an
    // earlier one is covered by the fires after it), and with a fire every few seconds a loaded
    // machine let a second one come (queued behind the first) before the schedule was off.
    await setSchedule('CUSTOM', `${(new Date().getUTCSeconds() + 4) % 60} * * * * *`);
    const [first] = await until('a scheduled backup running', runs, (rows) => rows.some((r) => r.jobId), 90_000);
    await setSchedule('DISABLED', null);
    expect(await runs()).toHaveLength(1);
    const job: { id: string; instanceId: string } = (await db.query(`SELECT id, "instanceId" FROM kiln_jobs WHERE id = $1`, [first.jobId])).rows[0];
    const victim = instances.find((i) => job.instanceId.split(':')[1] === String(i.child.pid))!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    instances.splice(instances.indexOf(victim), 1);

    // Within a minute: the dead job is failed and the fire re-run by a survivor.
    const taken = await until(
      'the fire re-run elsewhere',
      async () => (await db.query(`SELECT "claimedBy", "jobId", attempts FROM kiln_schedule_runs WHERE "scheduledFor" = $1`, [first.scheduledFor])).rows[0],
      (r) => r.attempts === 2 && r.jobId && r.jobId !== first.jobId,
      60_000,
    );
    expect(taken.claimedBy).not.toBe(first.claimedBy);
    return job;
  });
  await stopSchedule();

  const backups = await scheduledBackups();
  const dead = backups.find((b) => b.instanceId === victimJob.instanceId)!;
  expect(dead).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^interrupted: /) });
  // Every fire ends with exactly one completed backup.
  const fires = await runs();
  const completed = backups.filter((b) => b.status === 'COMPLETED');
  expect(completed.map((b) => b.id).sort()).toEqual(fires.map((f) => f.backupId).sort());
}, 180_000);
