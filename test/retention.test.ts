import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { Client } from 'pg';
import { BackupLocation, BackupStatus, BackupType } from '../src/backup/backup.enums';
import { newBackupRecord } from '../src/backup/new-backup-record';
import { newId } from '../src/db/ids';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { extraDatabaseName, finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN } from './support/test-kiln';
import { until } from './support/until';

const DAY = 86_400_000;
const PREVIEW = '{ retentionPreview { cutoff retentionDays keepAtLeast totalBytes backups { id filename fileSize type status } } }';
const APPLY = 'mutation { applyRetention { id kind status } }';
const SCHEDULE_FIELDS = 'frequency cron timezone location retentionDays keepAtLeast includeAuditLogs includeSessions';
const UPDATE_SCHEDULE = `mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { ${SCHEDULE_FIELDS} } }`;
const GET_SCHEDULE = `{ backupSchedule { ${SCHEDULE_FIELDS} updatedAt } }`;

interface Made {
  id: string;
  filename: string;
  fileSize: number;
}

/** Removes every backup (records and files) so each case starts from none. */
async function clearBackups(s: SeededKiln): Promise<void> {
  await s.db.query('DELETE FROM backup_records');
  rmSync(s.kiln.backupDir, { recursive: true, force: true });
  mkdirSync(s.kiln.backupDir, { recursive: true });
}

/** Real backups, one after another (they share the exclusive lease). */
async function makeBackups(s: SeededKiln, count: number, input: Record<string, unknown> = {}): Promise<Made[]> {
  const made: Made[] = [];
  for (let i = 0; i < count; i++) {
    const job = await finishedJob(s, (await startBackup(s, input)).jobId);
    expect(job.status).toBe('COMPLETED');
    made.push({ id: job.backup.id, filename: job.backup.filename, fileSize: job.backup.fileSize });
  }
  return made;
}

/** Back-dates a backup's row (and may change its type or status), as if taken `days` ago. */
async function age(s: SeededKiln, backup: { id: string }, days: number, change: { type?: string; status?: string } = {}): Promise<void> {
  // In the app's values (PRE_RESTORE/PRE_RESET are `manual` to the app), Kiln's kind beside them.
  const appType = change.type === undefined ? null : change.type === 'SCHEDULED' ? 'scheduled' : 'manual';
  await s.db.query(
    `UPDATE backup_records SET "createdAt" = $2, type = coalesce($3, type), status = coalesce(lower($4), status) WHERE id = $1`,
    [backup.id, new Date(Date.now() - days * DAY), appType, change.status ?? null],
  );
  if (change.type) await s.db.query(`UPDATE kiln_backup_details SET kind = $2 WHERE id = $1`, [backup.id, change.type]);
}

async function setPolicy(s: SeededKiln, retentionDays: number, keepAtLeast: number): Promise<void> {
  const res = await gql(s.kiln.url, UPDATE_SCHEDULE, { i: { retentionDays, keepAtLeast } }, s.token);
  expect(res.errors).toBeUndefined();
}

async function remainingIds(s: SeededKiln): Promise<string[]> {
  return (await s.db.query('SELECT id FROM backup_records ORDER BY id')).rows.map((r) => r.id);
}

async function preview(s: SeededKiln): Promise<any> {
  const res = await gql(s.kiln.url, PREVIEW, {}, s.token);
  expect(res.errors).toBeUndefined();
  return res.data!.retentionPreview;
}

/** Runs retention over GraphQL and waits for its job. */
async function applyRetention(s: SeededKiln) {
  const res = await gql(s.kiln.url, APPLY, {}, s.token);
  expect(res.errors).toBeUndefined();
  expect(res.data!.applyRetention).toMatchObject({ kind: 'RETENTION', status: 'RUNNING' });
  await s.kiln.services.jobs.settled(res.data!.applyRetention.id);
  return (await s.kiln.services.jobs.get(res.data!.applyRetention.id))!;
}

/** The backups a retention job deleted, by their BACKUP_DELETED audit entries. */
async function deletedBy(s: SeededKiln, jobId: string): Promise<Array<{ entityId: string; actorUserId: string | null; metadata: any }>> {
  const { rows } = await s.db.query(
    `SELECT "entityId", "actorUserId", metadata FROM "AuditLog" WHERE action = 'BACKUP_DELETED' AND metadata->>'jobId' = $1`,
    [jobId],
  );
  return rows;
}

const ids = (list: Array<{ id: string }>) => list.map((b) => b.id).sort();

describe('retention', () => {
  let s: SeededKiln;
  let adminId: string;

  beforeAll(async () => {
    s = await startSeededKiln(3);
    adminId = (await s.db.query('SELECT id FROM "User" WHERE email = $1', [TEST_ADMIN.email])).rows[0].id;
  }, 120_000);
  afterAll(async () => s?.close());
  beforeEach(async () => clearBackups(s));

  it('deletes backups older than retentionDays from disk and records, keeps the rest, and previews exactly that', async () => {
    await setPolicy(s, 30, 1);
    const [oldest, old, fresh, freshest] = await makeBackups(s, 4);
    await age(s, oldest, 45);
    await age(s, old, 31);

    const planned = await preview(s);
    expect(planned).toMatchObject({ retentionDays: 30, keepAtLeast: 1, totalBytes: oldest.fileSize + old.fileSize });
    expect(planned.backups.map((b: Made) => b.id)).toEqual([oldest.id, old.id]); // oldest first
    expect(Math.abs(Date.parse(planned.cutoff) - (Date.now() - 30 * DAY))).toBeLessThan(60_000);

    const job = await applyRetention(s);
    expect(job).toMatchObject({ status: 'COMPLETED', error: null, bytesDone: oldest.fileSize + old.fileSize, percent: 100 });
    expect(job.message).toContain(`Deleted 2 backup(s), ${oldest.fileSize + old.fileSize} bytes freed`);
    expect(job.message).toContain(oldest.filename);
    expect(job.message).toContain(old.filename);
    expect(job.message).not.toContain(fresh.filename);

    expect(existsSync(path.join(s.kiln.backupDir, oldest.filename))).toBe(false);
    expect(existsSync(path.join(s.kiln.backupDir, old.filename))).toBe(false);
    expect(existsSync(path.join(s.kiln.backupDir, fresh.filename))).toBe(true);
    expect(existsSync(path.join(s.kiln.backupDir, freshest.filename))).toBe(true);
    expect(await remainingIds(s)).toEqual(ids([fresh, freshest]));

    // Each deletion went through BackupService.delete: one BACKUP_DELETED entry each, for the admin who asked.
    const audited = await deletedBy(s, job.id);
    expect(audited.map((a) => a.entityId).sort()).toEqual(planned.backups.map((b: Made) => b.id).sort());
    for (const entry of audited) expect(entry).toMatchObject({ actorUserId: adminId, metadata: { reason: 'retention', jobId: job.id } });
    const summary = await s.db.query(`SELECT "actorUserId", metadata FROM "AuditLog" WHERE action = 'RETENTION_APPLIED' AND "entityId" = $1`, [job.id]);
    expect(summary.rows).toHaveLength(1);
    expect(summary.rows[0].actorUserId).toBe(adminId);
    expect(summary.rows[0].metadata).toMatchObject({ trigger: 'MANUAL', retentionDays: 30, keepAtLeast: 1, bytesFreed: oldest.fileSize + old.fileSize, failed: [] });
    expect(summary.rows[0].metadata.deleted.map((d: Made) => d.filename).sort()).toEqual([oldest.filename, old.filename].sort());

    // Nothing is left to delete: the next run says so.
    expect((await preview(s)).backups).toEqual([]);
    expect((await applyRetention(s)).message).toMatch(/^Deleted nothing/);
  });

  // Which backups a policy selects is src/retention/retention-policy.test.ts's; these cases check
  // that the saved policy, the records' kinds and statuses, and the scheduler's trigger reach it.
  it('keeps the newest keepAtLeast COMPLETED backups even when all are old (a scheduler run, no actor)', async () => {
    await setPolicy(s, 30, 2);
    const made = await makeBackups(s, 3);
    for (const [i, backup] of made.entries()) await age(s, backup, 200 - i * 10);
    const planned = await preview(s);
    expect(ids(planned.backups)).toEqual(ids(made.slice(0, 1)));

    const started = await s.kiln.services.retention.start('DAILY', null);
    await s.kiln.services.jobs.settled(started.id);
    expect((await s.kiln.services.jobs.get(started.id))!.status).toBe('COMPLETED');
    expect(await remainingIds(s)).toEqual(ids(made.slice(1)));
    const audited = await deletedBy(s, started.id);
    expect(audited.map((a) => a.entityId).sort()).toEqual(ids(planned.backups));
    for (const entry of audited) expect(entry.actorUserId).toBeNull();
    const summary = await s.db.query(`SELECT "actorUserId", metadata FROM "AuditLog" WHERE action = 'RETENTION_APPLIED' AND "entityId" = $1`, [started.id]);
    expect(summary.rows).toEqual([expect.objectContaining({ actorUserId: null, metadata: expect.objectContaining({ trigger: 'DAILY' }) })]);
  });

  it('never counts FAILED runs toward keepAtLeast: an old COMPLETED backup outlives a newer FAILED one', async () => {
    await setPolicy(s, 30, 1);
    // Counted, the newer failure would take the one place keepAtLeast holds, and the completed one would go.
    const [completed] = await makeBackups(s, 1);
    await age(s, completed, 50);
    const options = { includeAuditLogs: false, includeSessions: false, location: BackupLocation.LOCAL };
    // A FAILED record that wrote nothing, as the app's own failed runs and Kiln's earlier versions left them.
    const recordFailed = async () => {
      const record = Object.assign(newBackupRecord(options, BackupType.SCHEDULED, null), { status: BackupStatus.FAILED, error: 'disk full', completedAt: new Date() });
      await s.kiln.services.backups.records.insert(record);
      return record;
    };
    const failed = await recordFailed();
    const oldFailure = await recordFailed();
    await age(s, oldFailure, 60);

    const planned = await preview(s);
    expect(ids(planned.backups)).toEqual(ids([oldFailure]));
    const job = await applyRetention(s);
    expect(job.status).toBe('COMPLETED');
    expect(await remainingIds(s)).toEqual(ids([completed, failed]));
    expect((await deletedBy(s, job.id)).map((a) => a.entityId).sort()).toEqual(ids(planned.backups));
  });

  it('keeps PRE_RESTORE and PRE_RESET backups 7 days even with retentionDays 1', async () => {
    await setPolicy(s, 1, 1);
    const [safety5, reset6, manual2, fresh] = await makeBackups(s, 4);
    await age(s, safety5, 5, { type: 'PRE_RESTORE' });
    await age(s, reset6, 6, { type: 'PRE_RESET' });
    await age(s, manual2, 2);

    const planned = await preview(s);
    expect(ids(planned.backups)).toEqual(ids([manual2]));
    const job = await applyRetention(s);
    expect(job.status).toBe('COMPLETED');
    expect(await remainingIds(s)).toEqual(ids([safety5, reset6, fresh]));
    expect(existsSync(path.join(s.kiln.backupDir, safety5.filename))).toBe(true);
    expect(existsSync(path.join(s.kiln.backupDir, manual2.filename))).toBe(false);
  });

  it('never touches a backup IN_PROGRESS nor one a running verify reads', async () => {
    await setPolicy(s, 30, 1);
    const [source, stale, leftover, fresh] = await makeBackups(s, 4);
    await age(s, source, 40);
    await age(s, stale, 40);
    // A record a crash left IN_PROGRESS (no job any more).
    await age(s, leftover, 40, { status: 'IN_PROGRESS' });
    const started: string[] = [];
    let writingId = '';
    try {
      await whileTableLocked(s, async () => {
        // The verify's restore drill waits on the locked table: the VERIFY job stays RUNNING, reading `source`.
        const verify = await gql(s.kiln.url, 'mutation($id: ID!) { verifyBackup(id: $id, restoreDrill: true) { id } }', { id: source.id }, s.token);
        expect(verify.errors).toBeUndefined();
        started.push(verify.data!.verifyBackup.id);
        // So does a backup being written, back-dated as if it had started long ago.
        const writing = await startBackup(s);
        started.push(writing.jobId);
        writingId = writing.backupId;
        await age(s, { id: writingId }, 40);
        // Both wait on the lock: the drill's CREATE TABLE … LIKE and the backup's COPY.
        await until(
          'the drill and the backup to wait on the lock',
          async () => (await s.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n as number,
          (waiting) => waiting >= 2,
          30_000,
          50,
        );

        const planned = await preview(s);
        expect(ids(planned.backups)).toEqual([stale.id]);
        const job = await applyRetention(s);
        expect(job.status).toBe('COMPLETED');
        expect(await remainingIds(s)).toEqual(ids([source, leftover, fresh, { id: writingId }]));
        expect(existsSync(path.join(s.kiln.backupDir, source.filename))).toBe(true);
        expect(existsSync(path.join(s.kiln.backupDir, leftover.filename))).toBe(true);
        for (const id of started) expect((await s.kiln.services.jobs.get(id))!.status).toBe('RUNNING');
      });
      for (const id of started) {
        await s.kiln.services.jobs.settled(id);
        expect((await s.kiln.services.jobs.get(id))!.status).toBe('COMPLETED');
      }
      // Once nothing reads them, the old ones are due (the leftover IN_PROGRESS record never is).
      expect(ids((await preview(s)).backups)).toEqual(ids([source, { id: writingId }]));
    } finally {
      for (const id of started) await s.kiln.services.jobs.cancel(id).catch(() => undefined);
      for (const id of started) await s.kiln.services.jobs.settled(id);
    }
  });

  it('refuses a second run while one runs, on any instance, with CONFLICT naming it; backups still run beside it', async () => {
    await setPolicy(s, 30, 1);
    const [held, other, fresh] = await makeBackups(s, 3);
    await age(s, held, 40);
    await age(s, other, 41);
    // Another connection holds the row of a backup the run deletes: the run waits on it, RUNNING.
    const locker = new Client({ connectionString: s.kiln.databaseUrl });
    await locker.connect();
    const second = await startTestKiln({}, s.kiln.databaseUrl);
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM backup_records WHERE id = $1 FOR UPDATE', [held.id]);
      const first = await gql(s.kiln.url, APPLY, {}, s.token);
      const running = first.data!.applyRetention.id;

      const again = await gql(s.kiln.url, APPLY, {}, s.token);
      expect(errorCode(again)).toBe('CONFLICT');
      expect(again.errors![0].extensions!.runningJobId).toBe(running);
      expect(again.errors![0].message).toContain(running);
      const elsewhere = await gql(second.url, APPLY, {}, await loginToken(second.url));
      expect(errorCode(elsewhere)).toBe('CONFLICT');
      expect(elsewhere.errors![0].extensions!.runningJobId).toBe(running);
      await expect(s.kiln.services.retention.start('SCHEDULE', null)).rejects.toMatchObject({ extensions: { code: 'CONFLICT', runningJobId: running } });

      // RETENTION does not take the backup/restore lease.
      const backup = await finishedJob(s, (await startBackup(s)).jobId);
      expect(backup.status).toBe('COMPLETED');
      expect((await s.kiln.services.jobs.get(running))!.status).toBe('RUNNING');

      await locker.query('COMMIT');
      await s.kiln.services.jobs.settled(running);
      expect((await s.kiln.services.jobs.get(running))!.status).toBe('COMPLETED');
      expect(await remainingIds(s)).toEqual(ids([fresh, backup.backup]));
      // Once it has finished, a new run may start.
      expect((await applyRetention(s)).status).toBe('COMPLETED');
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await second.close();
    }
  });

  it('is admin-only', async () => {
    expect(errorCode(await gql(s.kiln.url, PREVIEW))).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(s.kiln.url, APPLY))).toBe('UNAUTHENTICATED');
    const id = newId();
    await s.db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "isActive", "updatedAt") VALUES ($1, 'demoted@kiln.test', $2, 'ADMIN', true, now())`, [
      id,
      await bcrypt.hash('demoted-password', 4),
    ]);
    const token = await loginToken(s.kiln.url, 'demoted@kiln.test', 'demoted-password');
    await s.db.query(`UPDATE "User" SET role = 'CREDIT_OFFICER' WHERE id = $1`, [id]);
    expect(errorCode(await gql(s.kiln.url, PREVIEW, {}, token))).toBe('FORBIDDEN');
    expect(errorCode(await gql(s.kiln.url, APPLY, {}, token))).toBe('FORBIDDEN');
    expect((await s.db.query(`SELECT count(*)::int AS n FROM kiln_jobs WHERE kind = 'RETENTION' AND "requestedById" = $1`, [id])).rows[0].n).toBe(0);
  });

  describe('keepAtLeast and retentionDays on the schedule', () => {
    it('saves keepAtLeast, audited with the schedule', async () => {
      const res = await gql(s.kiln.url, UPDATE_SCHEDULE, { i: { keepAtLeast: 7 } }, s.token);
      expect(res.data!.updateBackupSchedule.keepAtLeast).toBe(7);
      expect((await gql(s.kiln.url, GET_SCHEDULE, {}, s.token)).data!.backupSchedule.keepAtLeast).toBe(7);
      expect((await preview(s)).keepAtLeast).toBe(7);
      const audit = await s.db.query(`SELECT after FROM "AuditLog" WHERE action = 'SCHEDULE_UPDATED' ORDER BY "createdAt" DESC LIMIT 1`);
      expect(audit.rows[0].after).toMatchObject({ keepAtLeast: 7 });
    });

    const bad: Array<[string, number]> = [
      ['keepAtLeast', 0],
      ['keepAtLeast', -1],
      ['keepAtLeast', 5000],
      ['keepAtLeast', 1.5],
      ['retentionDays', -1],
      ['retentionDays', 0],
      ['retentionDays', 100000],
    ];
    it.each(bad)('refuses %s %p with BAD_USER_INPUT naming the field, and changes nothing', async (field, value) => {
      await setPolicy(s, 30, 3);
      const before = (await gql(s.kiln.url, GET_SCHEDULE, {}, s.token)).data!.backupSchedule;
      const res = await gql(s.kiln.url, UPDATE_SCHEDULE, { i: { [field]: value } }, s.token);
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toContain(field);
      if (Number.isInteger(value)) expect(res.errors![0].extensions!.field).toBe(field);
      expect((await gql(s.kiln.url, GET_SCHEDULE, {}, s.token)).data!.backupSchedule).toEqual(before);
    });
  });
});

describe('retention with cloud copies', () => {
  let cloud: FakeCloudinary;
  let s: SeededKiln;

  beforeAll(async () => {
    cloud = await startCloudinaryServer();
    s = await startSeededKiln(2, { CLOUDINARY_URL: cloud.cloudinaryUrl, CLOUD_RETRY_ATTEMPTS: '1' }, extraDatabaseName('retention_cloud'));
  }, 120_000);
  afterAll(async () => {
    await s?.close();
    await cloud?.close();
  });

  it('deletes every copy, and lists a backup the cloud would not let go with the reason, keeping its record', async () => {
    await setPolicy(s, 30, 1);
    const [refused, both, cloudOnly] = [...(await makeBackups(s, 2, { location: 'BOTH' })), ...(await makeBackups(s, 1, { location: 'CLOUD' }))];
    const [fresh] = await makeBackups(s, 1);
    await age(s, refused, 50);
    await age(s, both, 45);
    await age(s, cloudOnly, 40);
    for (const b of [refused, both, cloudOnly]) expect(cloud.objects.has(`kiln-backups/${b.filename}`)).toBe(true);

    // The first destroy (of the oldest, deleted first) fails: Cloudinary is down for it.
    cloud.faults.push({ match: 'destroy', kind: '500', times: 1 });
    const job = await applyRetention(s);
    expect(cloud.faults).toEqual([]);
    expect(job.status).toBe('COMPLETED');
    expect(job.message).toContain('Deleted 2 backup(s)');
    expect(job.message).toMatch(new RegExp(`could not delete 1: ${refused.filename.replace(/\./g, '\\.')} \\(Cloudinary could not delete`));

    for (const b of [both, cloudOnly]) expect(cloud.objects.has(`kiln-backups/${b.filename}`)).toBe(false);
    expect(existsSync(path.join(s.kiln.backupDir, both.filename))).toBe(false);
    // The refused one is untouched everywhere, its record saying why.
    expect(cloud.objects.has(`kiln-backups/${refused.filename}`)).toBe(true);
    expect(existsSync(path.join(s.kiln.backupDir, refused.filename))).toBe(true);
    expect(await remainingIds(s)).toEqual(ids([refused, fresh]));
    expect((await s.db.query('SELECT "cloudError" FROM kiln_backup_details WHERE id = $1', [refused.id])).rows[0].cloudError).toMatch(/delete failed/);
    const summary = await s.db.query(`SELECT metadata FROM "AuditLog" WHERE action = 'RETENTION_APPLIED' AND "entityId" = $1`, [job.id]);
    expect(summary.rows[0].metadata.failed).toEqual([expect.objectContaining({ id: refused.id, reason: expect.stringMatching(/Cloudinary/) })]);

    // Once Cloudinary is back, the next run finishes the job.
    expect((await applyRetention(s)).message).toContain(`Deleted 1 backup(s)`);
    expect(cloud.objects.has(`kiln-backups/${refused.filename}`)).toBe(false);
    expect(await remainingIds(s)).toEqual([fresh.id]);
  });
});
