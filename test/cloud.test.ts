import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { fingerprint, RESTORE } from './support/restore-helpers';
import { CREATE_BACKUP, extraDatabaseName, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
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
  // Notes of random base64 (gzip keeps ~76 % of it) make the backup larger than 25 MB gzipped
  // with the least to write and read (~37 MB of notes).
  const userId = (await s.db.query(`SELECT id FROM "User" LIMIT 1`)).rows[0].id;
  await s.db.query(
    `INSERT INTO "UserNote" (id, "userId", title, content, "createdByUserId", "updatedAt")
     SELECT 'big-' || g, $1, 'random', (SELECT string_agg(encode(sha256((random()::text || g || i)::bytea), 'base64'), '') FROM generate_series(1, 1300) i), $1, now()
       FROM generate_series(1, 650) g`,
    [userId],
  );
}, 120_000);
afterAll(async () => {
  await s?.close();
  await cloud?.close();
});
afterEach(async () => {
  cloud.faults.length = 0;
  cloud.clockOffsetSeconds = 0;
  // A test cut short (its timeout) must not fail the next ones: its job still holding the lease,
  // maintenance mode left on, a token the restored sessions no longer know.
  const jobs = s.kiln.services.jobs;
  for (const id of await jobs.activeJobIds()) await jobs.settled(id);
  if (errorCode(await gql(s.kiln.url, '{ me { id } }', {}, s.token)) === 'UNAUTHENTICATED') s.token = await loginToken(s.kiln.url);
  if ((await gql(s.kiln.url, '{ maintenanceMode { enabled } }', {}, s.token)).data?.maintenanceMode.enabled) {
    await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, s.token);
  }
}, 120_000);

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

/**
 * One completed backup per location, made by whichever test asks first (with the Cloudinary
 * requests it made): no test depends on another having run or passed. One that did not complete
 * is made again by the next test that asks.
 */
const madeBackups = new Map<string, Promise<{ job: any; backup: any; requests: FakeCloudinary['requests'] }>>();
function backupFor(location: string) {
  let made = madeBackups.get(location);
  if (!made) {
    made = (async () => {
      const seqBefore = cloud.requests.length;
      const result = await backupWith(s.kiln, s.token, location);
      if (result.job?.status !== 'COMPLETED') madeBackups.delete(location);
      return { job: result.job, backup: result.backup, requests: cloud.requests.slice(seqBefore) };
    })();
    made.catch(() => madeBackups.delete(location));
    madeBackups.set(location, made);
  }
  return made;
}

describe.each(['LOCAL', 'CLOUD', 'BOTH'])('a %s backup over 25 MB', (location) => {
  it('is created, in the right places, the cloud copy uploaded in chunks', async () => {
    const { job, backup, requests } = await backupFor(location);
    expect(job!.status).toBe('COMPLETED');
    expect(backup.fileSize).toBeGreaterThan(25 * 1024 * 1024);
    expect(backup.storedLocally).toBe(location !== 'CLOUD');
    expect(backup.storedInCloud).toBe(location !== 'LOCAL');
    expect(backup.cloudError).toBeNull();
    expect(existsSync(path.join(s.kiln.backupDir, backup.filename))).toBe(location !== 'CLOUD');
    if (location !== 'LOCAL') {
      const chunks = requests.filter((r) => r.endpoint === 'upload' && r.contentRange);
      expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(backup.fileSize / CHUNK));
      const stored = await cloud.readObject(`kiln-backups/${backup.filename}`);
      expect(stored.length).toBe(backup.fileSize);
    }
    expect(readdirSync(s.kiln.backupDir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  }, 180_000);

  it('downloads through its downloadUrl, and through the gateway route', async () => {
    const { backup } = await backupFor(location);
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
  }, 180_000);

  it('verifies every copy', async () => {
    const { backup } = await backupFor(location);
    const job = await verifyJob(backup.id);
    expect(job.verification!.ok).toBe(true);
    const names = job.verification!.checks.map((c) => c.name);
    if (location !== 'CLOUD') expect(names).toContain('present in LOCAL storage');
    if (location !== 'LOCAL') expect(names).toContain('present in CLOUD storage');
  }, 180_000);

  it('restores', async () => {
    const { backup } = await backupFor(location);
    await restoreFrom(backup.id);
  }, 240_000);

  it('is deleted from every location', async () => {
    const { backup } = await backupFor(location);
    // Gone after this test: a test that asks later gets a new one.
    madeBackups.delete(location);
    const res = await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: backup.id }, s.token);
    expect(res.data).toEqual({ deleteBackup: true });
    expect(cloud.objects.has(`kiln-backups/${backup.filename}`)).toBe(false);
    expect(existsSync(path.join(s.kiln.backupDir, backup.filename))).toBe(false);
  }, 180_000);
});

describe('faults', () => {
  // What these tests try needs no large file, but for the reset between chunks (on `s`): a
  // small database of its own keeps them quick.
  let small: SeededKiln;
  beforeAll(async () => {
    small = await startSeededKiln(40, cloudEnv(), extraDatabaseName('small'));
  }, 120_000);
  afterAll(async () => small?.close());
  afterEach(async () => {
    for (const id of await small.kiln.services.jobs.activeJobIds()) await small.kiln.services.jobs.settled(id);
  }, 120_000);

  it('BOTH with Cloudinary failing every chunk: COMPLETED locally, cloudError set', async () => {
    cloud.faults.push({ match: 'upload', kind: '500', times: 1000 });
    const { job, backup } = await backupWith(small.kiln, small.token, 'BOTH');
    expect(job).toMatchObject({ status: 'COMPLETED' });
    expect(backup).toMatchObject({ storedLocally: true, storedInCloud: false });
    expect(backup.cloudError).toMatch(/500|error/i);
    expect(job!.message).toMatch(/cloud copy failed/);
  }, 180_000);

  it('CLOUD survives a connection reset in the middle of the chunks by retrying', async () => {
    cloud.faults.push({ match: 'upload', kind: 'reset', times: 1, skip: 2, afterBytes: 1024 });
    const { job, backup } = await backupWith(s.kiln, s.token, 'CLOUD');
    expect({ status: job!.status, error: job!.error }).toEqual({ status: 'COMPLETED', error: null });
    expect(backup.storedInCloud).toBe(true);
    expect(cloud.requests.some((r) => r.outcome === 'reset')).toBe(true);
    const stored = await cloud.readObject(`kiln-backups/${backup.filename}`);
    expect(stored.length).toBe(backup.fileSize);
  }, 180_000);

  it('CLOUD fails cleanly when Cloudinary answers slower than the timeout every time', async () => {
    const slow = await startTestKiln(cloudEnv({ CLOUD_TIMEOUT_SECONDS: '1', CLOUD_RETRY_ATTEMPTS: '2', BACKUP_DIR: path.join(small.kiln.dataDir, 'slow') }), small.kiln.databaseUrl);
    try {
      cloud.faults.push({ match: 'upload', kind: 'timeout', times: 10 });
      const { job, backup } = await backupWith(slow, small.token, 'CLOUD');
      expect(job).toMatchObject({ status: 'FAILED' });
      expect(job!.errorCode).toBe('STORAGE_UNAVAILABLE');
      expect(backup.status).toBe('FAILED');
      expect(readdirSync(path.join(small.kiln.dataDir, 'slow'))).toEqual([]);
    } finally {
      cloud.faults.length = 0;
      await slow.close();
    }
  }, 180_000);

  it('CLOUD with a wrong API secret fails at once with Cloudinary’s reason, no retries', async () => {
    const wrongUrl = cloud.cloudinaryUrl.replace(`:${cloud.apiSecret}@`, ':not-the-secret@');
    const wrong = await startTestKiln(cloudEnv({ CLOUDINARY_URL: wrongUrl, BACKUP_DIR: path.join(small.kiln.dataDir, 'wrong') }), small.kiln.databaseUrl);
    try {
      const before = cloud.requests.filter((r) => r.endpoint === 'upload').length;
      const { job } = await backupWith(wrong, small.token, 'CLOUD');
      expect(job).toMatchObject({ status: 'FAILED' });
      expect(job!.error).toMatch(/Invalid Signature/);
      expect(cloud.requests.filter((r) => r.endpoint === 'upload').length - before).toBe(1);
    } finally {
      await wrong.close();
    }
  }, 180_000);

  // That Cloudinary refuses a tampered or stretched link is the stand-in's own behaviour: test/cloudinary-server.test.ts.
  it("hands out Cloudinary's signed link to Kiln's authenticated copy, expiring DOWNLOAD_URL_TTL (900 s) after it is asked for", async () => {
    const { job, backup } = await backupWith(small.kiln, small.token, 'CLOUD');
    expect(job!.status).toBe('COMPLETED');
    const asked = Math.floor(Date.now() / 1000);
    const { downloadUrl } = (await gql(small.kiln.url, BACKUP, { id: backup.id }, small.token)).data!.backup;
    const answered = Math.ceil(Date.now() / 1000);
    const url = new URL(downloadUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${cloud.url}/v1_1/${cloud.cloudName}/raw/download`);
    expect(url.searchParams.get('public_id')).toBe(`kiln-backups/${backup.filename}`);
    expect(url.searchParams.get('type')).toBe('authenticated');
    expect(url.searchParams.get('attachment')).toBe('true');
    const expiresAt = Number(url.searchParams.get('expires_at'));
    expect(expiresAt).toBeGreaterThanOrEqual(asked + 900);
    expect(expiresAt).toBeLessThanOrEqual(answered + 900);
    // Signed over its expiry: good until then (one byte is enough to tell), refused after.
    const firstByte = { headers: { range: 'bytes=0-0' } };
    expect((await fetch(url, firstByte)).status).toBe(206);
    cloud.clockOffsetSeconds = expiresAt - Math.floor(Date.now() / 1000) + 1;
    try {
      expect((await fetch(url, firstByte)).status).toBe(401);
    } finally {
      cloud.clockOffsetSeconds = 0;
    }
  }, 180_000);

  it('keeps the record, with the reason, when Cloudinary is down during a delete', async () => {
    const { job, backup } = await backupWith(small.kiln, small.token, 'CLOUD');
    expect([job!.status, job!.error]).toEqual(['COMPLETED', null]);
    expect(backup.storedInCloud).toBe(true);
    cloud.faults.push({ match: 'destroy', kind: '500', times: 5 });
    const res = await gql(small.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: backup.id }, small.token);
    expect(errorCode(res)).toBe('STORAGE_UNAVAILABLE');
    cloud.faults.length = 0;
    const kept = (await gql(small.kiln.url, BACKUP, { id: backup.id }, small.token)).data!.backup;
    expect(kept.cloudError).toMatch(/delete failed/);
    expect(cloud.objects.has(`kiln-backups/${backup.filename}`)).toBe(true);
  }, 180_000);
});
