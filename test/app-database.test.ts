/**
 * Kiln on the lending app's own database (made from the app's Prisma DDL), sharing
 * `backup_records` and `backup_schedule_settings` with the app: rows the app writes are
 * listed, verified, downloaded, restored and deleted; rows Kiln writes follow the app's rules.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { APP_DATA_KEYS } from '../src/backup/records/app-conventions';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { writeAppBackupFile } from './support/app-backup-file';
import { loadSqlFile, REFERENCE_DDL } from './support/public-schema';
import { fingerprint, inMaintenance, RESTORE } from './support/restore-helpers';
import { CREATE_BACKUP } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

const BACKUP_FIELDS = `id origin status type location appValues { status type location } warnings filename fileSize
  recordCounts storedLocally storedInCloud includeAuditLogs completedAt checksum fileChecksum downloadUrl`;
const BACKUPS = `query($f: BackupFilter) { backups(filter: $f, limit: 100) { total items { ${BACKUP_FIELDS} } } }`;
const BACKUP = `query($id: ID!) { backup(id: $id) { ${BACKUP_FIELDS} } }`;
const VERIFY = `mutation($id: ID!) { verifyBackup(id: $id, restoreDrill: true) { id } }`;
const SCHEDULE = `{ backupSchedule { frequency cron timezone location retentionDays keepAtLeast nextBackupAt warnings } backupHealth { problems } }`;
const UPDATE_SCHEDULE = `mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { frequency location nextBackupAt } }`;

let kiln: TestKiln;
let db: Client;
let token: string;
let appDir: string;
const logs: Array<Record<string, any>> = [];

/** A backup row inserted the way the app's backup service inserts it (Prisma's create). */
async function appRow(id: string, values: { filename?: string; localPath?: string | null; cloudinaryUrl?: string | null; status?: string; type?: string; location?: string; fileSize?: number; recordCounts?: object | null }) {
  await db.query(
    `INSERT INTO backup_records (id, filename, "fileSize", location, "cloudinaryUrl", "localPath", type, status, "recordCounts", error, "createdAt", "createdBy")
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, NULL)`,
    [
      id,
      values.filename ?? `backup_${id}.json`,
      values.fileSize ?? 0,
      values.location ?? 'local',
      values.cloudinaryUrl ?? null,
      values.localPath ?? null,
      values.type ?? 'manual',
      values.status ?? 'completed',
      values.recordCounts === undefined ? null : JSON.stringify(values.recordCounts),
      new Date('2026-03-01T02:00:00.000Z'),
    ],
  );
}

/** An app backup of the current data in the app's folder, and its row. */
async function appBackup(id: string, options: { includeAuditLogs?: boolean } = {}): Promise<{ file: string; bytes: Buffer }> {
  const file = path.join(appDir, `backup_2026-03-01T02-00-00-000Z-${id}.json`);
  const doc = await writeAppBackupFile(db, file, options);
  const bytes = readFileSync(file);
  await appRow(id, { filename: path.basename(file), localPath: file, fileSize: bytes.length, recordCounts: doc.metadata.recordCounts });
  return { file, bytes };
}

async function settledJob(id: string) {
  await kiln.services.jobs.settled(id);
  return (await kiln.services.jobs.get(id))!;
}

beforeAll(async () => {
  const url = await freshDatabase();
  await loadSqlFile(url, REFERENCE_DDL);
  appDir = mkdtempSync(path.join(tmpdir(), 'kiln-app-backups-'));
  kiln = await startTestKiln({ APP_BACKUP_DIR: appDir, SCHEDULE_POLL_SECONDS: '0.2' }, url, logs);
  db = new Client({ connectionString: url });
  await db.connect();
  await seedDemoData(db, { members: 30, seed: 9 });
  token = await loginToken(kiln.url);
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

describe('rows the app wrote', () => {
  it('are listed with their origin and values, whatever the values, never with an error', async () => {
    await appBackup('app-good');
    await appRow('app-odd', { status: 'archived', type: 'weekly-ish', location: 'tape' });
    await appRow('app-cloud', { location: 'cloud', cloudinaryUrl: 'https://res.cloudinary.com/demo/raw/upload/v1700000000/millenium-backups/backup_x.json' });
    // Removed whatever the outcome: no other test should list them.
    try {
      const res = await gql(kiln.url, BACKUPS, {}, token);
      expect(res.errors).toBeUndefined();
      const items = res.data!.backups.items as any[];
      const good = items.find((b) => b.id === 'app-good');
      expect(good).toMatchObject({
        origin: 'APP',
        status: 'COMPLETED',
        type: 'MANUAL',
        location: 'LOCAL',
        appValues: { status: 'completed', type: 'manual', location: 'local' },
        warnings: [],
        storedLocally: true,
        includeAuditLogs: false,
        checksum: null,
      });
      // The app's counts by data key, shown by table; a left-out (empty) audit log is not listed.
      expect(good.recordCounts.User).toBeGreaterThan(0);
      expect(good.recordCounts.AuditLog).toBeUndefined();
      expect(good.downloadUrl).toMatch(/\/backups\/app-good\/download\?token=/);

      const odd = items.find((b) => b.id === 'app-odd');
      expect(odd).toMatchObject({ status: 'UNKNOWN', type: 'UNKNOWN', location: 'UNKNOWN', appValues: { status: 'archived', type: 'weekly-ish', location: 'tape' }, downloadUrl: null });
      expect(odd.warnings).toEqual([expect.stringContaining('"archived"'), expect.stringContaining('"weekly-ish"'), expect.stringContaining('"tape"')]);
      expect(items.find((b) => b.id === 'app-cloud')).toMatchObject({ origin: 'APP', location: 'CLOUD', storedInCloud: true, storedLocally: false, warnings: [] });

      const unknown = await gql(kiln.url, BACKUPS, { f: { status: 'UNKNOWN' } }, token);
      expect(unknown.data!.backups.items.map((b: any) => b.id)).toEqual(['app-odd']);
      const manual = await gql(kiln.url, BACKUPS, { f: { type: 'MANUAL', location: 'LOCAL', status: 'COMPLETED' } }, token);
      expect(manual.data!.backups.items.map((b: any) => b.id)).toContain('app-good');
      expect((await gql(kiln.url, BACKUP, { id: 'app-odd' }, token)).errors).toBeUndefined();
      // By origin: the app's rows, whatever their values, and none of them among Kiln's.
      const fromApp = (await gql(kiln.url, BACKUPS, { f: { origin: 'APP' } }, token)).data!.backups.items as any[];
      expect(fromApp.map((b) => b.id)).toEqual(expect.arrayContaining(['app-good', 'app-odd', 'app-cloud']));
      expect(fromApp.every((b) => b.origin === 'APP')).toBe(true);
      const fromKiln = (await gql(kiln.url, BACKUPS, { f: { origin: 'KILN' } }, token)).data!.backups.items as any[];
      expect(fromKiln.every((b) => b.origin === 'KILN')).toBe(true);
      expect(fromKiln.length + fromApp.length).toBe(items.length);
    } finally {
      await db.query(`DELETE FROM backup_records WHERE id IN ('app-odd', 'app-cloud')`);
    }
  });

  it('verify with a restore drill, download byte for byte, and delete with their file', async () => {
    const { file, bytes } = await appBackup('app-verify');
    const job = await settledJob((await gql(kiln.url, VERIFY, { id: 'app-verify' }, token)).data!.verifyBackup.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('COMPLETED');
    expect(job.verification!.ok).toBe(true);
    expect(job.verification!.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['checksum matches the data', 'restore drill: Loan']));
    // Verified, and still the app's: Kiln's note beside the row makes up no Kiln facts.
    const after = (await gql(kiln.url, BACKUP, { id: 'app-verify' }, token)).data!.backup;
    expect(after).toMatchObject({ origin: 'APP', checksum: null });

    const download = await fetch(`${kiln.url}/backups/app-verify/download`, { headers: { authorization: `Bearer ${token}` } });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);

    expect((await gql(kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: 'app-verify' }, token)).data!.deleteBackup).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect((await db.query(`SELECT 1 FROM backup_records WHERE id = 'app-verify'`)).rowCount).toBe(0);
  });

  it('never read a localPath leading out of the backup folders, and say STORAGE_UNAVAILABLE for a missing file', async () => {
    // A valid backup outside the folders, reachable by `..` from the app's folder: refused all the same.
    const outside = path.join(path.dirname(appDir), `outside-${path.basename(appDir)}.json`);
    await writeAppBackupFile(db, outside);
    try {
      for (const [id, localPath] of [
        ['app-traversal', '../../etc/passwd'],
        ['app-escape', `../${path.basename(outside)}`],
        ['app-absolute', '/etc/passwd'],
      ]) {
        await appRow(id, { localPath });
        const listed = (await gql(kiln.url, BACKUP, { id }, token)).data!.backup;
        if (localPath.includes('..')) expect(listed.warnings).toEqual([expect.stringContaining('leaves the backup folders')]);
        const verify = await settledJob((await gql(kiln.url, VERIFY, { id }, token)).data!.verifyBackup.id);
        expect(verify).toMatchObject({ status: 'FAILED', errorCode: 'STORAGE_UNAVAILABLE' });
        const download = await fetch(`${kiln.url}/backups/${id}/download`, { headers: { authorization: `Bearer ${token}` } });
        expect(download.status).toBe(503);
        expect(((await download.json()) as any).errors[0].extensions.code).toBe('STORAGE_UNAVAILABLE');
      }
      await appRow('app-missing', { localPath: path.join(appDir, 'backup_gone.json') });
      const missing = await fetch(`${kiln.url}/backups/app-missing/download`, { headers: { authorization: `Bearer ${token}` } });
      expect(missing.status).toBe(503);
      const verifyMissing = await settledJob((await gql(kiln.url, VERIFY, { id: 'app-missing' }, token)).data!.verifyBackup.id);
      expect(verifyMissing.status).toBe('COMPLETED');
      expect(verifyMissing.verification!.ok).toBe(false);
      expect(verifyMissing.verification!.checks[0]).toMatchObject({ name: 'present in LOCAL storage', ok: false });
    } finally {
      await db.query(`DELETE FROM backup_records WHERE id IN ('app-traversal', 'app-escape', 'app-absolute', 'app-missing')`);
    }
  });

  it('restore by id, all or nothing, in maintenance mode', async () => {
    const source = await fingerprint(db);
    await appBackup('app-restore');
    await db.query(`DELETE FROM "RepaymentAllocation"`);
    await db.query(`UPDATE "Union" SET name = 'changed after the backup'`);
    expect(await fingerprint(db)).not.toEqual(source);

    expect(errorCode(await gql(kiln.url, RESTORE, { id: 'app-restore' }, token))).toBe('MAINTENANCE_REQUIRED');
    await inMaintenance(kiln.url, token, (fresh) => (token = fresh), async () => {
      const job = await settledJob((await gql(kiln.url, RESTORE, { id: 'app-restore', allowUnsigned: true }, token)).data!.restoreBackup.id);
      expect(job.error).toBeNull();
      // Every table the file holds equals the source; the live audit log and sessions were kept (the file had none).
      const tables = Object.values(APP_DATA_KEYS).filter((t) => t !== 'AuditLog' && t !== 'StaffSession');
      expect(await fingerprint(db, tables)).toEqual(Object.fromEntries(tables.map((t) => [t, source[t]])));
      expect((await db.query(`SELECT count(*)::int AS n FROM "AuditLog" WHERE action = 'SYSTEM_RESTORED'`)).rows[0].n).toBe(1);
    });
  });
});

describe('rows Kiln writes', () => {
  it("follow the app's conventions, so the app's own backup screen lists and serves them", async () => {
    const res = await gql(kiln.url, CREATE_BACKUP, { i: { includeAuditLogs: true } }, token);
    const job = await settledJob(res.data!.createBackup.id);
    expect(job.status).toBe('COMPLETED');
    const id = res.data!.createBackup.backup.id;
    // Queried as the app queries it: its download requires status = 'completed'.
    const { rows } = await db.query(`SELECT * FROM backup_records WHERE id = $1 AND status = 'completed'`, [id]);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    const [admin] = (await db.query(`SELECT id FROM "User" WHERE email = $1`, [TEST_ADMIN.email])).rows;
    expect(row).toMatchObject({ type: 'manual', location: 'local', createdBy: admin.id, cloudinaryUrl: null, error: null });
    expect(path.isAbsolute(row.localPath)).toBe(true);
    expect(row.fileSize).toBe(statSync(row.localPath).size);
    expect(Object.keys(row.recordCounts).sort()).toEqual(Object.keys(APP_DATA_KEYS).sort());
    expect(row.recordCounts.auditLogs).toBeGreaterThan(0);
    expect(row.recordCounts.staffSessions).toBe(0);
    const listed = (await gql(kiln.url, BACKUP, { id }, token)).data!.backup;
    expect(listed).toMatchObject({ origin: 'KILN', status: 'COMPLETED', type: 'MANUAL', fileSize: row.fileSize });
    expect(listed.fileChecksum).toBe(createHash('sha256').update(readFileSync(row.localPath)).digest('hex'));
  });

  it('cap fileSize at the INT4 maximum in the app row and keep the exact size in Kiln\'s table', async () => {
    // A completed Kiln row of its own: the size it is given would mislead a test reading another's.
    const res = await gql(kiln.url, CREATE_BACKUP, {}, token);
    expect((await settledJob(res.data!.createBackup.id)).status).toBe('COMPLETED');
    const id: string = res.data!.createBackup.backup.id;
    const exact = 5 * 1024 ** 3;
    await kiln.services.backups.records.update(id, { fileSize: exact });
    expect((await db.query(`SELECT "fileSize" FROM backup_records WHERE id = $1`, [id])).rows[0].fileSize).toBe(2147483647);
    expect((await gql(kiln.url, BACKUP, { id }, token)).data!.backup.fileSize).toBe(exact);
  });
});

describe('one schedule', () => {
  const armed = () => logs.filter((l) => l.event === 'schedule_armed' && l.kind === 'BACKUP');
  const disarmed = () => logs.filter((l) => l.event === 'schedule_disabled');
  /** Saves a daily schedule as the app's Prisma upsert writes it (its own default location 'cloud' replaced by local: no Cloudinary here). */
  const saveDailyAsTheApp = () =>
    db.query(
      `INSERT INTO backup_schedule_settings (id, frequency, location, "retentionDays", "includeAuditLogs", "includeSessions", "updatedAt")
       VALUES ('default', 'daily', 'local', 30, false, false, now())
       ON CONFLICT (id) DO UPDATE SET frequency = 'daily', location = 'local', "updatedAt" = now()`,
    );

  it("is the app's row: a frequency the app saves arms Kiln's timer", async () => {
    const before = armed().length;
    await saveDailyAsTheApp();
    await until('the timer armed', async () => armed().length, (n) => n > before, 10_000);
    expect(armed().at(-1)).toMatchObject({ cron: '0 2 * * *' });
    const { backupSchedule } = (await gql(kiln.url, SCHEDULE, {}, token)).data!;
    expect(backupSchedule).toMatchObject({ frequency: 'DAILY', cron: '0 2 * * *', location: 'LOCAL', warnings: [] });
    expect(backupSchedule.nextBackupAt).not.toBeNull();
  });

  it('lists a frequency neither side knows in health and arms nothing, without an error', async () => {
    // Armed first, by a row of its own, so the unknown frequency is seen disarming a timer.
    await saveDailyAsTheApp();
    await until('the backup timer armed', () => kiln.scheduler.armed(), (kinds) => kinds.includes('BACKUP'), 10_000);
    const before = disarmed().length;
    await db.query(`UPDATE backup_schedule_settings SET frequency = 'fortnightly', "updatedAt" = now()`);
    await until('the timer disarmed', async () => disarmed().length, (n) => n > before, 10_000);
    expect(kiln.scheduler.armed()).not.toContain('BACKUP');
    const res = await gql(kiln.url, SCHEDULE, {}, token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.backupSchedule).toMatchObject({ frequency: 'UNKNOWN', cron: null, nextBackupAt: null });
    expect(res.data!.backupSchedule.warnings).toEqual([expect.stringContaining('"fortnightly"')]);
    expect(res.data!.backupHealth.problems).toEqual(expect.arrayContaining([expect.stringContaining('"fortnightly"')]));
  });

  it("updateBackupSchedule writes the app's columns in the app's values, Kiln's additions beside them", async () => {
    const res = await gql(kiln.url, UPDATE_SCHEDULE, { i: { frequency: 'WEEKLY', location: 'LOCAL', keepAtLeast: 4, timezone: 'Europe/London' } }, token);
    expect(res.errors).toBeUndefined();
    const [app] = (await db.query(`SELECT frequency, location, "nextBackupAt", "updatedAt" FROM backup_schedule_settings`)).rows;
    expect(app).toMatchObject({ frequency: 'weekly', location: 'local' });
    expect(app.nextBackupAt).not.toBeNull();
    expect((await db.query(`SELECT timezone, "keepAtLeast", cron FROM kiln_schedule_settings`)).rows).toEqual([
      { timezone: 'Europe/London', keepAtLeast: 4, cron: null },
    ]);
    expect(errorCode(await gql(kiln.url, UPDATE_SCHEDULE, { i: { frequency: 'UNKNOWN' } }, token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await gql(kiln.url, UPDATE_SCHEDULE, { i: { location: 'UNKNOWN' } }, token))).toBe('BAD_USER_INPUT');
    await gql(kiln.url, UPDATE_SCHEDULE, { i: { frequency: 'DISABLED' } }, token);
  });
});

it('refuses UNKNOWN as a location for a new backup', async () => {
  expect(errorCode(await gql(kiln.url, CREATE_BACKUP, { i: { location: 'UNKNOWN' } }, token))).toBe('BAD_USER_INPUT');
});
