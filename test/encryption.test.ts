import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestKiln, gql, loginToken, type TestKiln } from './support/test-kiln';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { fingerprint, RESTORE } from './support/restore-helpers';

const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('hex');
const VERIFY = `mutation($id: ID!) { verifyBackup(id: $id) { id } }`;

let s: SeededKiln;
let backup: { id: string; filename: string; encrypted: boolean; fileSize: number };

beforeAll(async () => {
  s = await startSeededKiln(60, { BACKUP_ENCRYPTION_KEY: OLD_KEY });
  backup = (await finishedJob(s, (await startBackup(s, { includeAuditLogs: true })).jobId)).backup;
});
afterAll(async () => s?.close());

/** Another gateway on the same database and backup folder, with other key settings. */
async function instance(env: Record<string, string>): Promise<TestKiln> {
  return startTestKiln({ BACKUP_DIR: s.kiln.backupDir, DATA_DIR: s.kiln.dataDir, ...env }, s.kiln.databaseUrl);
}

async function verifyOn(k: TestKiln) {
  const token = await loginToken(k.url);
  const res = await gql(k.url, VERIFY, { id: backup.id }, token);
  const id = res.data!.verifyBackup.id;
  await k.services.jobs.settled(id);
  return (await k.services.jobs.get(id))!;
}

it('encrypts new backups at rest: no plaintext in the file, flagged on the record', async () => {
  expect(backup.encrypted).toBe(true);
  expect(backup.filename).toMatch(/\.enc$/);
  const bytes = readFileSync(path.join(s.kiln.backupDir, backup.filename));
  expect(bytes.subarray(0, 8).toString()).toBe('KILNENC1');
  expect(bytes.includes(Buffer.from('kiln-backup'))).toBe(false);
  expect(bytes.length).toBe(backup.fileSize);
});

it('verifies and restores an encrypted backup with the key', async () => {
  const job = await verifyOn(s.kiln);
  expect(job.verification?.ok).toBe(true);
  const before = await fingerprint(s.db, ['Loan', 'Repayment']);
  await s.db.query(`UPDATE "Loan" SET notes = 'changed'`);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  const res = await gql(s.kiln.url, RESTORE, { id: backup.id }, s.token);
  await s.kiln.services.jobs.settled(res.data!.restoreBackup.id);
  expect((await s.kiln.services.jobs.get(res.data!.restoreBackup.id))!.status).toBe('COMPLETED');
  expect(await fingerprint(s.db, ['Loan', 'Repayment'])).toEqual(before);
  s.token = await loginToken(s.kiln.url);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, s.token);
});

it('reads old backups after a key rotation, and names the missing key without it', async () => {
  const rotated = await instance({ BACKUP_ENCRYPTION_KEY: NEW_KEY, BACKUP_DECRYPTION_KEYS: OLD_KEY });
  try {
    expect((await verifyOn(rotated)).verification?.ok).toBe(true);
  } finally {
    await rotated.close();
  }
  const wrong = await instance({ BACKUP_ENCRYPTION_KEY: NEW_KEY });
  try {
    const job = await verifyOn(wrong);
    expect(job.verification?.ok).toBe(false);
    const failed = job.verification!.checks.find((c) => !c.ok)!;
    expect(failed.detail).toMatch(/not among the configured keys|no key/i);
    // A restore with the wrong key fails before touching anything.
    const token = await loginToken(wrong.url);
    await gql(wrong.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, token);
    const before = await fingerprint(s.db);
    const res = await gql(wrong.url, RESTORE, { id: backup.id }, token);
    await wrong.services.jobs.settled(res.data!.restoreBackup.id);
    const restore = (await wrong.services.jobs.get(res.data!.restoreBackup.id))!;
    expect(restore).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
    expect(await fingerprint(s.db)).toEqual(before);
    await gql(wrong.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, await loginToken(wrong.url));
  } finally {
    await wrong.close();
  }
  s.token = await loginToken(s.kiln.url);
});

it('detects a flipped byte and a truncation anywhere in an encrypted file', async () => {
  const file = path.join(s.kiln.backupDir, backup.filename);
  const original = readFileSync(file);
  for (const damaged of [
    Buffer.concat([original.subarray(0, 5000), Buffer.from([original[5000] ^ 1]), original.subarray(5001)]),
    original.subarray(0, original.length - 100),
    Buffer.concat([original.subarray(0, 20), Buffer.from([original[20] ^ 1]), original.subarray(21)]), // header
  ]) {
    writeFileSync(file, damaged);
    try {
      const job = await verifyOn(s.kiln);
      expect(job.verification?.ok).toBe(false);
    } finally {
      writeFileSync(file, original);
    }
  }
});

it('refuses to start with a malformed key, naming the variable', async () => {
  await expect(startTestKiln({ BACKUP_ENCRYPTION_KEY: 'not-a-key' }, s.kiln.databaseUrl)).rejects.toThrow(/BACKUP_ENCRYPTION_KEY must be 32 bytes/);
  await expect(startTestKiln({ BACKUP_DECRYPTION_KEYS: `${OLD_KEY},short` }, s.kiln.databaseUrl)).rejects.toThrow(/BACKUP_DECRYPTION_KEYS entry 2/);
});
