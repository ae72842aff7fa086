import { Client } from 'pg';
import { errorCode, gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';
import { freshDatabase } from './support/test-database';
import { until } from './support/until';

const FIELDS = 'frequency cron timezone location retentionDays includeAuditLogs includeSessions lastBackupAt nextBackupAt updatedAt';
const GET = `{ backupSchedule { ${FIELDS} } }`;
const UPDATE = `mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { ${FIELDS} } }`;
const RUNS = 'query($n: Int, $after: DateTimeISO) { nextBackupRuns(count: $n, after: $after) { at local } }';

const HOUR = 3600_000;

/** The first whole UTC hour after `from` whose instant satisfies `ok` (hand-rolled, independent of cron-parser). */
function firstHourAfter(from: Date, ok: (d: Date) => boolean): string {
  let t = Math.floor(from.getTime() / HOUR) * HOUR + HOUR;
  while (!ok(new Date(t))) t += HOUR;
  return new Date(t).toISOString();
}

describe('backup schedule settings', () => {
  let kiln: TestKiln;
  let token: string;
  const get = async () => (await gql(kiln.url, GET, {}, token)).data!.backupSchedule;
  const update = (i: Record<string, unknown>) => gql(kiln.url, UPDATE, { i }, token);

  /** The schedule as the new gateway had it, read before any test changed it. */
  let initial: Record<string, unknown>;

  beforeAll(async () => {
    kiln = await startTestKiln();
    token = await loginToken(kiln.url);
    initial = (await gql(kiln.url, `{ backupSchedule { ${FIELDS} keepAtLeast } }`, {}, token)).data!.backupSchedule;
  });
  afterAll(async () => kiln?.close());
  // One saved schedule for all these tests: each leaves it as the new gateway had it (through the API, so the timers follow).
  afterEach(async () => {
    const { frequency, timezone, location, retentionDays, keepAtLeast, includeAuditLogs, includeSessions } = initial;
    const reset = await update({ frequency, timezone, location, retentionDays, keepAtLeast, includeAuditLogs, includeSessions });
    expect(reset.errors).toBeUndefined();
  });

  it('starts disabled with the defaults', async () => {
    expect(initial).toMatchObject({
      frequency: 'DISABLED',
      cron: null,
      timezone: 'Africa/Lagos',
      location: 'LOCAL',
      retentionDays: 30,
      keepAtLeast: 3,
      includeAuditLogs: false,
      includeSessions: false,
      lastBackupAt: null,
      nextBackupAt: null,
    });
    expect((await gql(kiln.url, RUNS, {}, token)).data!.nextBackupRuns).toEqual([]);
  });

  it('is admin-only', async () => {
    expect(errorCode(await gql(kiln.url, GET))).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(kiln.url, UPDATE, { i: { frequency: 'DAILY' } }))).toBe('UNAUTHENTICATED');
  });

  // Africa/Lagos is UTC+1 all year.
  const lagos: Array<[string, string, (d: Date) => boolean]> = [
    ['HOURLY', '0 * * * *', () => true],
    ['DAILY', '0 2 * * *', (d) => d.getUTCHours() === 1],
    ['WEEKLY', '0 2 * * 0', (d) => d.getUTCHours() === 1 && d.getUTCDay() === 0],
    ['MONTHLY', '0 2 1 * *', (d) => d.getUTCHours() === 1 && d.getUTCDate() === 1],
  ];
  it.each(lagos)('%s runs %s in Africa/Lagos, and nextBackupAt says when', async (frequency, cron, ok) => {
    const before = new Date();
    const res = await update({ frequency, timezone: 'Africa/Lagos' });
    expect(res.errors).toBeUndefined();
    const s = res.data!.updateBackupSchedule;
    expect(s).toMatchObject({ frequency, cron, timezone: 'Africa/Lagos' });
    expect(s.nextBackupAt).toBe(firstHourAfter(before, ok));
    expect(await get()).toMatchObject({ frequency, cron, nextBackupAt: s.nextBackupAt });
  });

  it('follows the wall clock of Europe/London across the March change', async () => {
    const res = await update({ frequency: 'DAILY', timezone: 'Europe/London' });
    expect(res.data!.updateBackupSchedule).toMatchObject({ cron: '0 2 * * *', timezone: 'Europe/London' });
    // 02:00 GMT is 02:00 UTC; from 29 March 2026, 02:00 BST is 01:00 UTC.
    const runs = (await gql(kiln.url, RUNS, { n: 3, after: '2026-03-27T12:00:00Z' }, token)).data!.nextBackupRuns;
    expect(runs).toEqual([
      { at: '2026-03-28T02:00:00.000Z', local: '2026-03-28T02:00:00+00:00' },
      { at: '2026-03-29T01:00:00.000Z', local: '2026-03-29T02:00:00+01:00' },
      { at: '2026-03-30T01:00:00.000Z', local: '2026-03-30T02:00:00+01:00' },
    ]);
    // A run at 01:30, which does not exist on 29 March, moves to 02:30 BST rather than being skipped.
    await update({ frequency: 'CUSTOM', cron: '30 1 * * *' });
    const custom = (await gql(kiln.url, RUNS, { n: 3, after: '2026-03-27T12:00:00Z' }, token)).data!.nextBackupRuns;
    expect(custom.map((r: any) => r.local)).toEqual(['2026-03-28T01:30:00+00:00', '2026-03-29T02:30:00+01:00', '2026-03-30T01:30:00+01:00']);
    // And runs once, not twice, on the October day that has two 01:30s.
    const autumn = (await gql(kiln.url, RUNS, { n: 3, after: '2026-10-23T12:00:00Z' }, token)).data!.nextBackupRuns;
    expect(autumn.map((r: any) => r.at)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // nextBackupAt is the first of these runs from now.
    const now = (await gql(kiln.url, RUNS, { n: 1 }, token)).data!.nextBackupRuns[0];
    expect((await get()).nextBackupAt).toBe(now.at);
    expect(now.local).toMatch(/T01:30:00\+0[01]:00$/);
  });

  it('keeps a CUSTOM cron when other fields change, and writes SCHEDULE_UPDATED audit entries', async () => {
    expect((await update({ frequency: 'CUSTOM', cron: '30 1 * * *' })).errors).toBeUndefined();
    const res = await update({ retentionDays: 7, includeAuditLogs: true });
    expect(res.data!.updateBackupSchedule).toMatchObject({ frequency: 'CUSTOM', cron: '30 1 * * *', retentionDays: 7, includeAuditLogs: true });
    const db = new Client({ connectionString: kiln.databaseUrl });
    await db.connect();
    try {
      const audit = await db.query(`SELECT action, after FROM "AuditLog" WHERE "entityName" = 'BackupSchedule' ORDER BY "createdAt" DESC LIMIT 1`);
      expect(audit.rows[0]).toMatchObject({ action: 'SCHEDULE_UPDATED', after: { frequency: 'CUSTOM', retentionDays: 7, includeAuditLogs: true } });
    } finally {
      await db.end();
    }
  });

  const bad: Array<[string, Record<string, unknown>, string, string]> = [
    ['an unknown timezone', { timezone: 'Mars/Olympus' }, 'BAD_USER_INPUT', 'timezone'],
    ['CUSTOM without a cron', { frequency: 'CUSTOM', cron: null }, 'BAD_USER_INPUT', 'cron'],
    ['a cron with 4 fields', { frequency: 'CUSTOM', cron: '0 2 * *' }, 'BAD_USER_INPUT', 'cron'],
    ['a cron with 7 fields', { frequency: 'CUSTOM', cron: '0 0 2 * * * *' }, 'BAD_USER_INPUT', 'cron'],
    ['a cron out of range', { frequency: 'CUSTOM', cron: '61 2 * * *' }, 'BAD_USER_INPUT', 'cron'],
    ['a cron that is not one', { frequency: 'CUSTOM', cron: 'every day at two' }, 'BAD_USER_INPUT', 'cron'],
    ['a cron firing more often than 300 s', { frequency: 'CUSTOM', cron: '*/1 * * * *' }, 'BAD_USER_INPUT', 'cron'],
    ['a cron firing twice a minute apart', { frequency: 'CUSTOM', cron: '0,1 2 * * *' }, 'BAD_USER_INPUT', 'cron'],
    ['a cron for a fixed frequency', { frequency: 'DAILY', cron: '0 3 * * *' }, 'BAD_USER_INPUT', 'cron'],
    ['negative retentionDays', { retentionDays: -1 }, 'BAD_USER_INPUT', 'retentionDays'],
    ['zero retentionDays', { retentionDays: 0 }, 'BAD_USER_INPUT', 'retentionDays'],
    ['absurd retentionDays', { retentionDays: 100000 }, 'BAD_USER_INPUT', 'retentionDays'],
    ['CLOUD without cloud storage', { location: 'CLOUD' }, 'STORAGE_UNAVAILABLE', 'location'],
    ['BOTH without cloud storage', { location: 'BOTH' }, 'STORAGE_UNAVAILABLE', 'location'],
  ];
  it.each(bad)('refuses %s and changes nothing', async (_what, input, code, field) => {
    await update({ frequency: 'DAILY', timezone: 'Africa/Lagos', retentionDays: 30 });
    const before = await get();
    const res = await update(input);
    expect(errorCode(res)).toBe(code);
    expect(res.errors![0].extensions!.field).toBe(field);
    expect(res.errors![0].message).toMatch(field === 'location' ? /CLOUDINARY_URL/ : new RegExp(field));
    expect(await get()).toEqual(before);
  });

  it('previews unsaved changes: next runs and retention as the schedule would be, bad drafts explained, nothing saved', async () => {
    // A saved schedule, as the refusal tests have: one never saved reads as the defaults as of the
    // moment of reading (updatedAt too), which could not show that nothing was saved.
    expect((await update({ frequency: 'DAILY', timezone: 'Africa/Lagos', retentionDays: 30 })).errors).toBeUndefined();
    const before = await get();
    const PREVIEW = `query($d: BackupScheduleInput) {
      nextBackupRuns(schedule: $d, count: 3) { local }
      retentionPreview(schedule: $d) { retentionDays keepAtLeast cutoff }
    }`;
    const draft = { frequency: 'CUSTOM', cron: '15 3 * * 1', timezone: 'Asia/Tokyo', retentionDays: 2, keepAtLeast: 9 };
    const res = await gql(kiln.url, PREVIEW, { d: draft }, token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.nextBackupRuns.map((r: { local: string }) => r.local)).toEqual([
      expect.stringMatching(/T03:15:00\+09:00$/),
      expect.stringMatching(/T03:15:00\+09:00$/),
      expect.stringMatching(/T03:15:00\+09:00$/),
    ]);
    expect(res.data!.nextBackupRuns.every((r: { local: string }) => new Date(r.local).getUTCDay() === 0)).toBe(true); // Monday 03:15 in Tokyo is Sunday in UTC
    expect(res.data!.retentionPreview).toMatchObject({ retentionDays: 2, keepAtLeast: 9 });
    expect(Date.now() - new Date(res.data!.retentionPreview.cutoff).getTime()).toBeGreaterThan(2 * 24 * HOUR - 60_000);

    for (const [bad, field] of [[{ frequency: 'CUSTOM', cron: 'every day' }, 'cron'], [{ timezone: 'Mars/Olympus' }, 'timezone'], [{ retentionDays: 0 }, 'retentionDays']] as const) {
      const refused = await gql(kiln.url, PREVIEW, { d: bad }, token);
      expect([field, errorCode(refused), refused.errors![0].extensions!.field]).toEqual([field, 'BAD_USER_INPUT', field]);
    }
    expect(await get()).toEqual(before);
  });

  it('refuses a silly count of runs', async () => {
    expect(errorCode(await gql(kiln.url, RUNS, { n: 0 }, token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await gql(kiln.url, RUNS, { n: 1000 }, token))).toBe('BAD_USER_INPUT');
  });
});

describe('scheduled backups on several instances', () => {
  const env = { SCHEDULE_MIN_INTERVAL_SECONDS: '1', SCHEDULE_POLL_SECONDS: '1' };
  const CRON = '*/3 * * * * *';
  let url: string;
  let db: Client;
  const instances: TestKiln[] = [];
  const start = async () => {
    const k = await startTestKiln(env, url);
    instances.push(k);
    return k;
  };
  const stop = async (k: TestKiln) => {
    instances.splice(instances.indexOf(k), 1);
    await k.close();
  };
  const scheduled = async () =>
    (await db.query(`SELECT id, upper(status) AS status, error, "createdAt" FROM backup_records WHERE type = 'scheduled' ORDER BY "createdAt"`)).rows;
  const fireCount = async () => (await db.query(`SELECT count(*)::int AS n FROM kiln_schedule_runs`)).rows[0].n as number;
  /** Each instance has polled since now (an update made before this call is followed everywhere). */
  const everyInstancePolled = () =>
    Promise.all(
      instances.map(async (k) => {
        // Past any poll that may have read the schedule before; the next one reads it as it is now.
        await k.scheduler.idle();
        await k.scheduler.tick();
      }),
    );

  // Each test on a database of its own with instances of its own: fires, runs and records are counted from none.
  beforeEach(async () => {
    url = await freshDatabase(`kiln_test_schedule_${process.env.JEST_WORKER_ID ?? '1'}`, { migrated: true });
    db = new Client({ connectionString: url });
    await db.connect();
  });
  afterEach(async () => {
    for (const k of [...instances]) await stop(k);
    await db?.end();
  });

  it('an update on instance A is followed by instance B, which runs SCHEDULED backups', async () => {
    const a = await start();
    const b = await start();
    const token = await loginToken(a.url);
    const res = await gql(a.url, UPDATE, { i: { frequency: 'CUSTOM', cron: CRON, timezone: 'Africa/Lagos' } }, token);
    expect(res.errors).toBeUndefined();
    // A stops at once: whatever runs next, B learnt of the schedule by polling.
    await stop(a);
    const t0 = Date.now();
    const done = await until('a completed scheduled backup', scheduled, (rows) => rows.some((r) => r.status === 'COMPLETED'));
    // poll (1 s) + next fire (≤ 3 s) + the backup itself
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(done.every((r) => r.status !== 'FAILED')).toBe(true);
    const runs = (await db.query(`SELECT "claimedBy", "backupId" FROM kiln_schedule_runs`)).rows;
    expect(runs.length).toBeGreaterThan(0);
    const schedule = (await gql(b.url, GET, {}, await loginToken(b.url))).data!.backupSchedule;
    expect(schedule.lastBackupAt).not.toBeNull();
    expect(Date.now() - new Date(schedule.lastBackupAt).getTime()).toBeLessThan(10_000);
    expect(new Date(schedule.nextBackupAt).getUTCSeconds() % 3).toBe(0);
  }, 40_000);

  it('two instances produce exactly one backup per fire time', async () => {
    await start(); // both instances arm the same fires: each fire must still give one backup
    const second = await start();
    const token = await loginToken(second.url);
    const on = await gql(second.url, UPDATE, { i: { frequency: 'CUSTOM', cron: CRON, timezone: 'Africa/Lagos' } }, token);
    expect(on.errors).toBeUndefined();
    const before = await fireCount();
    await until('three more fires', fireCount, (n) => n - before >= 3, 40_000);
    // Disable, then let the last jobs finish.
    const off = await gql(second.url, UPDATE, { i: { frequency: 'DISABLED' } }, token);
    expect(off.data!.updateBackupSchedule).toMatchObject({ frequency: 'DISABLED', cron: null, nextBackupAt: null });
    await everyInstancePolled();
    await until('every claimed fire to have its job', async () => (await db.query(`SELECT count(*)::int AS n FROM kiln_schedule_runs WHERE "jobId" IS NULL`)).rows[0].n, (n) => n === 0);
    await until('no scheduled job queued or running', async () => (await db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rows[0].n, (n) => n === 0);
    await until('no backup in progress', scheduled, (rows) => rows.every((r) => r.status !== 'IN_PROGRESS'));

    const runs = (await db.query(`SELECT "scheduledFor", "claimedBy", "backupId" FROM kiln_schedule_runs ORDER BY "scheduledFor"`)).rows;
    const records = await scheduled();
    expect(runs.length - before).toBeGreaterThanOrEqual(3);
    // Every fire has one backup, every backup one fire: nothing doubled, nothing dropped.
    expect(runs.every((r) => r.backupId)).toBe(true);
    expect(new Set(runs.map((r) => r.backupId)).size).toBe(runs.length);
    expect(records.map((r) => r.id).sort()).toEqual(runs.map((r) => r.backupId).sort());
    expect(records.every((r) => r.status === 'COMPLETED')).toBe(true);
    // Fires are 3 s apart.
    for (let i = 1; i < runs.length; i++) {
      expect((runs[i].scheduledFor.getTime() - runs[i - 1].scheduledFor.getTime()) % 3000).toBe(0);
    }
    // Nothing more after disabling: no instance has a backup timer left to fire (drills run on their own), and nothing was made since.
    expect(instances.map((k) => k.scheduler.armed().filter((kind) => kind !== 'DRILL'))).toEqual(instances.map(() => []));
    await everyInstancePolled();
    expect((await scheduled()).length).toBe(records.length);
    expect(await fireCount()).toBe(runs.length);
  }, 60_000);
});

describe('an update on the instance that made it', () => {
  let kiln: TestKiln;
  afterAll(async () => kiln?.close());

  it('applies at once, without waiting for the poll', async () => {
    // The poll would take five minutes: only the update itself can arm the timer in time.
    kiln = await startTestKiln({ SCHEDULE_MIN_INTERVAL_SECONDS: '1', SCHEDULE_POLL_SECONDS: '300' });
    const token = await loginToken(kiln.url);
    const res = await gql(kiln.url, UPDATE, { i: { frequency: 'CUSTOM', cron: '*/2 * * * * *' } }, token);
    expect(res.errors).toBeUndefined();
    const db = new Client({ connectionString: kiln.databaseUrl });
    await db.connect();
    try {
      await until('a scheduled backup', async () => (await db.query(`SELECT count(*)::int AS n FROM backup_records WHERE type = 'scheduled'`)).rows[0].n, (n) => n > 0, 30_000);
      await gql(kiln.url, UPDATE, { i: { frequency: 'DISABLED' } }, token);
      await until('no backup in progress', async () => (await db.query(`SELECT count(*)::int AS n FROM backup_records WHERE status = 'in_progress'`)).rows[0].n, (n) => n === 0);
    } finally {
      await db.end();
    }
  });
});
