import { randomBytes } from 'node:crypto';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { CREATE_BACKUP, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { ConfigError, loadConfig } from '../src/config/config';
import { errorCode, gql, startTestKiln } from './support/test-kiln';

const HEALTH = '{ backupHealth { healthy problems lastSuccessfulBackupAt lastFailedBackupAt failedLast24h nextScheduledAt totalBackups totalBytes localBytes cloudBytes } }';

let cloud: FakeCloudinary;
let s: SeededKiln;
beforeAll(async () => {
  cloud = await startCloudinaryServer();
  // Polls the schedule rarely: a back-dated schedule must not get a catch-up run mid-test.
  s = await startSeededKiln(20, { SCHEDULE_POLL_SECONDS: '300' });
});
afterAll(async () => {
  await s?.close();
  await cloud?.close();
});

// Health counts every backup record: each test starts from none, whatever ran before.
beforeEach(async () => {
  await s.db.query(`DELETE FROM backup_records`);
});

async function backup(k: { url: string; services: SeededKiln['kiln']['services'] }, location = 'LOCAL') {
  const res = await gql(k.url, CREATE_BACKUP, { i: { location } }, s.token);
  await k.services.jobs.settled(res.data!.createBackup.id);
}

it('names every problem of a fresh, local-only gateway, for GraphQL and monitors alike', async () => {
  const health = (await gql(s.kiln.url, HEALTH, {}, s.token)).data!.backupHealth;
  expect(health).toMatchObject({ healthy: false, totalBackups: 0, totalBytes: 0, failedLast24h: 0, lastSuccessfulBackupAt: null });
  expect(health.problems).toEqual(expect.arrayContaining(['No backup has completed yet', expect.stringMatching(/Cloud storage is not configured/)]));
  const monitor = await fetch(`${s.kiln.url}/health/backups`);
  expect(monitor.status).toBe(503);
  expect(((await monitor.json()) as any).problems).toEqual(health.problems);
  expect(errorCode(await gql(s.kiln.url, HEALTH))).toBe('UNAUTHENTICATED');
});

it('counts backups, bytes and the failures of the last 24 hours', async () => {
  await backup(s.kiln);
  await s.db.query(`INSERT INTO backup_records (id, filename, "fileSize", location, type, status, error, "createdAt") VALUES ('f1', 'x.json', 0, 'local', 'manual', 'failed', 'disk full', now())`);
  await s.db.query(`INSERT INTO backup_records (id, filename, "fileSize", location, type, status, error, "createdAt") VALUES ('f0', 'y.json', 0, 'local', 'manual', 'failed', 'old', now() - interval '3 days')`);
  const health = (await gql(s.kiln.url, HEALTH, {}, s.token)).data!.backupHealth;
  expect(health.totalBackups).toBe(1);
  expect(health.totalBytes).toBeGreaterThan(0);
  expect(health.failedLast24h).toBe(1);
  expect(health.problems).toContain('1 backup(s) failed in the last 24 hours');
  expect(health.problems).not.toContain('No backup has completed yet');
});

it('flags unencrypted and failed cloud copies, and is healthy once all is well', async () => {
  const plain = await startTestKiln({ CLOUDINARY_URL: cloud.cloudinaryUrl, DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl);
  try {
    await backup(plain, 'BOTH');
    const health = (await gql(plain.url, HEALTH, {}, s.token)).data!.backupHealth;
    expect(health.problems).toEqual(expect.arrayContaining(['1 cloud copy is not encrypted (set BACKUP_ENCRYPTION_KEY)', 'New cloud copies will not be encrypted: set BACKUP_ENCRYPTION_KEY']));
  } finally {
    await plain.close();
  }
  await s.db.query(`DELETE FROM backup_records`);
  const good = await startTestKiln(
    { CLOUDINARY_URL: cloud.cloudinaryUrl, BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('hex'), DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir },
    s.kiln.databaseUrl,
  );
  try {
    await backup(good, 'BOTH');
    const health = (await gql(good.url, HEALTH, {}, s.token)).data!.backupHealth;
    expect(health).toMatchObject({ healthy: true, problems: [], totalBackups: 1 });
    // One copy here and one in the cloud: each holds the whole file.
    expect([health.localBytes, health.cloudBytes]).toEqual([health.totalBytes, health.totalBytes]);
    await backup(good, 'LOCAL');
    const more = (await gql(good.url, HEALTH, {}, s.token)).data!.backupHealth;
    expect(more.cloudBytes).toBe(health.cloudBytes);
    expect(more.localBytes).toBe(more.totalBytes);
    expect(more.localBytes).toBeGreaterThan(health.localBytes);
    expect((await fetch(`${good.url}/health/backups`)).status).toBe(200);
    cloud.faults.push({ match: 'upload', kind: '500', times: 100 });
    try {
      await backup(good, 'BOTH');
    } finally {
      cloud.faults.length = 0;
    }
    expect((await gql(good.url, HEALTH, {}, s.token)).data!.backupHealth.cloudBytes).toBe(health.cloudBytes);
    const after = (await gql(good.url, HEALTH, {}, s.token)).data!.backupHealth;
    expect(after.problems).toContain('The cloud copy failed for 1 backup(s) in the last 24 hours');
  } finally {
    await good.close();
  }
});

it('flags a schedule that has not produced a good backup within two periods, and only then', async () => {
  const problem = async () =>
    ((await gql(s.kiln.url, HEALTH, {}, s.token)).data!.backupHealth.problems as string[]).find((p) => p.includes('within two periods'));
  await backup(s.kiln);
  await gql(s.kiln.url, `mutation { updateBackupSchedule(input: { frequency: HOURLY }) { frequency } }`, {}, s.token);
  try {
    // Just enabled: two fires back the schedule did not exist yet.
    expect(await problem()).toBeUndefined();
    // In force for a day, last success 45 minutes ago: within the last period.
    await s.db.query(`UPDATE backup_schedule_settings SET "updatedAt" = now() - interval '1 day'`);
    await s.db.query(`UPDATE kiln_schedule_settings SET "updatedAt" = now() - interval '1 day'`);
    await s.db.query(`UPDATE kiln_backup_details SET "completedAt" = now() - interval '45 minutes' WHERE id IN (SELECT id FROM backup_records WHERE status = 'completed')`);
    expect(await problem()).toBeUndefined();
    // Last success three hours ago: two hourly fires passed without one.
    await s.db.query(`UPDATE kiln_backup_details SET "completedAt" = now() - interval '3 hours' WHERE id IN (SELECT id FROM backup_records WHERE status = 'completed')`);
    expect(await problem()).toMatch(/^No backup has succeeded within two periods of the HOURLY schedule \(last success .*, expected one since .*\)$/);
  } finally {
    // A schedule left in force would change other tests' health.
    await gql(s.kiln.url, `mutation { updateBackupSchedule(input: { frequency: DISABLED }) { frequency } }`, {}, s.token);
  }
  expect(await problem()).toBeUndefined();
});

describe('a local-only installation by choice', () => {
  const cloudEntries = (h: { problems: string[]; notes: string[] }) => ({
    problems: h.problems.filter((p) => /cloud/i.test(p)),
    notes: h.notes.filter((n) => /Local-only/.test(n)),
  });
  const HEALTH_NOTES = '{ backupHealth { healthy problems notes } }';

  it('with CLOUD_REQUIRED=false: no cloud is a note, and health is green once a backup completed', async () => {
    const local = await startTestKiln({ CLOUD_REQUIRED: 'false', DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl);
    try {
      await backup(local);
      const health = (await gql(local.url, HEALTH_NOTES, {}, s.token)).data!.backupHealth;
      expect(health).toMatchObject({ healthy: true, problems: [] });
      expect(cloudEntries(health)).toEqual({ problems: [], notes: [expect.stringContaining('(CLOUD_REQUIRED=false)')] });
      expect((await fetch(`${local.url}/health/backups`)).status).toBe(200);
    } finally {
      await local.close();
    }
  });

  it('with a schedule in force that stores LOCAL: a note; a disabled schedule does not make that choice', async () => {
    const h = async () => cloudEntries((await gql(s.kiln.url, HEALTH_NOTES, {}, s.token)).data!.backupHealth);
    await gql(s.kiln.url, `mutation { updateBackupSchedule(input: { frequency: DISABLED, location: LOCAL }) { frequency } }`, {}, s.token);
    try {
      expect(await h()).toEqual({ problems: [expect.stringMatching(/^Cloud storage is not configured .*CLOUD_REQUIRED=false/)], notes: [] });
      await gql(s.kiln.url, `mutation { updateBackupSchedule(input: { frequency: DAILY, location: LOCAL }) { frequency } }`, {}, s.token);
      expect(await h()).toEqual({ problems: [], notes: [expect.stringContaining('the backup schedule stores backups LOCAL')] });
    } finally {
      // A schedule left in force would change other tests' health.
      await gql(s.kiln.url, `mutation { updateBackupSchedule(input: { frequency: DISABLED }) { frequency } }`, {}, s.token);
    }
  });

  it('refuses a CLOUD_REQUIRED that is not true or false', async () => {
    expect(() => loadConfig({ CLOUD_REQUIRED: 'no' })).toThrow(ConfigError);
  });
});
