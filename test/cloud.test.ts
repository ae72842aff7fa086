import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { fingerprint, RESTORE } from './support/restore-helpers';
import { CREATE_BACKUP, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { errorCode, gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';

const CHUNK = 5 * 1024 * 1024;
const BACKUP = `query($id: ID!) { backup(id: $id) { id status location filename fileSize encrypted storedLocally storedInCloud cloudError error downloadUrl } }`;
const VERIFY = `mutation($id: ID!) { verifyBackup(id: $id) { id } }`;

let cloud: FakeCloudinary;
let s: SeededKiln;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const cloudEnv = (extra: Record<string, string> = {}) => ({
  CLOUDINARY_URL: cloud.cloudinaryUrl,
  CLOUDINARY_CHUNK_BYTES: String(CHUNK),
  CLOUD_RETRY_ATTEMPTS: '4', // the default: room for one incidental failure besides an injected one
  ...extra,
});

beforeAll(async () => {
  cloud = await startCloudinaryServer();
  s = await startSeededKiln(40, cloudEnv());
  // Incompressible notes make the backup larger than 25 MB even gzipped.
  const userId = (await s.db.query(`SELECT id FROM "User" LIMIT 1`)).rows[0].id;
  await s.db.query(
    `INSERT INTO "UserNote" (id, "userId", title, content, "createdByUserId", "updatedAt")
     SELECT 'big-' || g, $1, 'random', (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 3000) i), $1, now()
       FROM generate_series(1, 650) g`,
    [userId],
  );
}, 120_000);
afterAll(async () => {
  await s?.close();
  await cloud?.close();
});
afterEach(() => {
  cloud.faults.length = 0;
});

async function backupWith(k: { url: string; services: TestKiln['services'] }, token: string, location: string) {
  const res = await gql(k.url, CREATE_BACKUP, { i: { location } }, token);
  if (!res.data) return { error: res.errors![0] };
  await k.services.jobs.settled(res.data.createBackup.id);
  const job = (await k.services.jobs.get(res.data.createBackup.id))!;
  const backup = (await gql(k.url, BACKUP, { id: res.data.createBackup.backup.id }, token)).data!.backup;
  return { job, backup };
}

async function verifyJob(id: string) {
  const res = await gql(s.kiln.url, VERIFY, { id }, s.token);
  await s.kiln.services.jobs.settled(res.data!.verifyBackup.id);
  return (await s.kiln.services.jobs.get(res.data!.verifyBackup.id))!;
}

async function restoreFrom(id: string) {
  const before = await fingerprint(s.db, ['Loan', 'UserNote']);
  await s.db.query(`UPDATE "Loan" SET notes = 'changed since'`);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  const res = await gql(s.kiln.url, RESTORE, { id }, s.token);
  await s.kiln.services.jobs.settled(res.data!.restoreBackup.id);
  const job = (await s.kiln.services.jobs.get(res.data!.restoreBackup.id))!;
  s.token = await loginToken(s.kiln.url);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, s.token);
  expect(job.status).toBe('COMPLETED');
  expect(await fingerprint(s.db, ['Loan', 'UserNote'])).toEqual(before);
}

describe.each(['LOCAL', 'CLOUD', 'BOTH'])('a %s backup over 25 MB', (location) => {
  let backup: any;

  it('is created, in the right places, the cloud copy uploaded in chunks', async () => {
    const seqBefore = cloud.requests.length;
    const result = await backupWith(s.kiln, s.token, location);
    expect(result.job!.status).toBe('COMPLETED');
    backup = result.backup;
    expect(backup.fileSize).toBeGreaterThan(25 * 1024 * 1024);
    expect(backup.storedLocally).toBe(location !== 'CLOUD');
    expect(backup.storedInCloud).toBe(location !== 'LOCAL');
    expect(backup.cloudError).toBeNull();
    expect(existsSync(path.join(s.kiln.backupDir, backup.filename))).toBe(location !== 'CLOUD');
    if (location !== 'LOCAL') {
      const chunks = cloud.requests.slice(seqBefore).filter((r) => r.endpoint === 'upload' && r.contentRange);
      expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(backup.fileSize / CHUNK));
      const stored = await cloud.readObject(`kiln-backups/${backup.filename}`);
      expect(stored.length).toBe(backup.fileSize);
    }
    expect(readdirSync(s.kiln.backupDir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('downloads through its downloadUrl, and through the gateway route', async () => {
    const viaLink = Buffer.from(await (await fetch(backup.downloadUrl)).arrayBuffer());
    expect(viaLink.length).toBe(backup.fileSize);
    if (location === 'CLOUD') expect(backup.downloadUrl.startsWith(cloud.url)).toBe(true);
    else expect(backup.downloadUrl.startsWith(s.kiln.url)).toBe(true);
    const route = await fetch(`${s.kiln.url}/backups/${backup.id}/download`, { headers: { authorization: `Bearer ${s.token}` }, redirect: 'manual' });
    if (location === 'CLOUD') {
      expect(route.status).toBe(302);
      expect(route.headers.get('location')!.startsWith(cloud.url)).toBe(true);
    } else {
      expect(sha(Buffer.from(await route.arrayBuffer()))).toBe(sha(viaLink));
    }
  });

  it('verifies every copy', async () => {
    const job = await verifyJob(backup.id);
    expect(job.verification!.ok).toBe(true);
    const names = job.verification!.checks.map((c) => c.name);
    if (location !== 'CLOUD') expect(names).toContain('present in LOCAL storage');
    if (location !== 'LOCAL') expect(names).toContain('present in CLOUD storage');
  });

  it('restores', async () => {
    await restoreFrom(backup.id);
  }, 120_000);

  it('is deleted from every location', async () => {
    const res = await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: backup.id }, s.token);
    expect(res.data).toEqual({ deleteBackup: true });
    expect(cloud.objects.has(`kiln-backups/${backup.filename}`)).toBe(false);
    expect(existsSync(path.join(s.kiln.backupDir, backup.filename))).toBe(false);
  });
});

describe('faults', () => {
  it('BOTH with Cloudinary failing every chunk: COMPLETED locally, cloudError set', async () => {
    cloud.faults.push({ match: 'upload', kind: '500', times: 1000 });
    const { job, backup } = await backupWith(s.kiln, s.token, 'BOTH');
    expect(job).toMatchObject({ status: 'COMPLETED' });
    expect(backup).toMatchObject({ storedLocally: true, storedInCloud: false });
    expect(backup.cloudError).toMatch(/500|error/i);
    expect(job!.message).toMatch(/cloud copy failed/);
  });

  it('CLOUD survives a connection reset in the middle of the chunks by retrying', async () => {
    cloud.faults.push({ match: 'upload', kind: 'reset', times: 1, skip: 2, afterBytes: 1024 });
    const { job, backup } = await backupWith(s.kiln, s.token, 'CLOUD');
    expect({ status: job!.status, error: job!.error }).toEqual({ status: 'COMPLETED', error: null });
    expect(backup.storedInCloud).toBe(true);
    expect(cloud.requests.some((r) => r.outcome === 'reset')).toBe(true);
    const stored = await cloud.readObject(`kiln-backups/${backup.filename}`);
    expect(stored.length).toBe(backup.fileSize);
  });

  it('CLOUD fails cleanly when Cloudinary answers slower than the timeout every time', async () => {
    const slow = await startTestKiln(cloudEnv({ CLOUD_TIMEOUT_SECONDS: '1', CLOUD_RETRY_ATTEMPTS: '2', BACKUP_DIR: path.join(s.kiln.dataDir, 'slow') }), s.kiln.databaseUrl);
    try {
      cloud.faults.push({ match: 'upload', kind: 'timeout', times: 10 });
      const { job, backup } = await backupWith(slow, s.token, 'CLOUD');
      expect(job).toMatchObject({ status: 'FAILED' });
      expect(job!.errorCode).toBe('STORAGE_UNAVAILABLE');
      expect(backup.status).toBe('FAILED');
      expect(readdirSync(path.join(s.kiln.dataDir, 'slow'))).toEqual([]);
    } finally {
      cloud.faults.length = 0;
      await slow.close();
    }
  });

  it('CLOUD with a wrong API secret fails at once with Cloudinary’s reason, no retries', async () => {
    const wrongUrl = cloud.cloudinaryUrl.replace(`:${cloud.apiSecret}@`, ':not-the-secret@');
    const wrong = await startTestKiln(cloudEnv({ CLOUDINARY_URL: wrongUrl, BACKUP_DIR: path.join(s.kiln.dataDir, 'wrong') }), s.kiln.databaseUrl);
    try {
      const before = cloud.requests.filter((r) => r.endpoint === 'upload').length;
      const { job } = await backupWith(wrong, s.token, 'CLOUD');
      expect(job).toMatchObject({ status: 'FAILED' });
      expect(job!.error).toMatch(/Invalid Signature/);
      expect(cloud.requests.filter((r) => r.endpoint === 'upload').length - before).toBe(1);
    } finally {
      await wrong.close();
    }
  });

  it('refuses an expired or tampered signed link (Cloudinary checks it)', async () => {
    const { backup } = await backupWith(s.kiln, s.token, 'CLOUD');
    const url = new URL(backup.downloadUrl);
    url.searchParams.set('signature', 'x' + url.searchParams.get('signature')!.slice(1));
    expect((await fetch(url)).status).toBe(401);
    cloud.clockOffsetSeconds = 901;
    try {
      expect((await fetch(backup.downloadUrl)).status).toBe(401);
    } finally {
      cloud.clockOffsetSeconds = 0;
    }
  });

  it('keeps the record, with the reason, when Cloudinary is down during a delete', async () => {
    const { job, backup } = await backupWith(s.kiln, s.token, 'CLOUD');
    expect([job!.status, job!.error]).toEqual(['COMPLETED', null]);
    expect(backup.storedInCloud).toBe(true);
    cloud.faults.push({ match: 'destroy', kind: '500', times: 5 });
    const res = await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: backup.id }, s.token);
    expect(errorCode(res)).toBe('STORAGE_UNAVAILABLE');
    cloud.faults.length = 0;
    const kept = (await gql(s.kiln.url, BACKUP, { id: backup.id }, s.token)).data!.backup;
    expect(kept.cloudError).toMatch(/delete failed/);
    expect(cloud.objects.has(`kiln-backups/${backup.filename}`)).toBe(true);
  });
});
