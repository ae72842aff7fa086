/**
 * Issue 10, finding 7: an uploaded file's checksum is its own claim. Kiln signs what it writes
 * (BACKUP_SIGNING_KEY) and a restore takes a file it cannot verify only with allowUnsigned.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BackupSigner } from '../src/backup/format/backup-signature';
import { appBackupText, buildAppBackupDocument } from './support/app-backup-file';
import { craftBackup, failedUpload as failedUploadTo, fingerprint, RESTORE, uploadRestore, noUploadsLeft } from './support/restore-helpers';
import { backupFileText, finishedJob, parseBackupFile, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';

let s: SeededKiln;
let doc: any;
let signed: Buffer;

beforeAll(async () => {
  s = await startSeededKiln(10);
  const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  signed = Buffer.from(backupFileText(path.join(s.kiln.backupDir, backup.filename)));
  doc = parseBackupFile(path.join(s.kiln.backupDir, backup.filename));
  expect((await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token)).errors).toBeUndefined();
});
afterAll(async () => s?.close());
// A restore logs everybody out: each test starts signed in, whatever the one before did or failed at.
afterEach(async () => {
  s.token = await loginToken(s.kiln.url);
});

/** The forgery of finding 7: the real data plus one ADMIN account the attacker can log in with. */
const addIntruder = (data: Record<string, any[]>) => {
  const admin = data.User.find((u) => u.role === 'ADMIN');
  data.User.push({ ...admin, id: 'intruder', email: 'intruder@evil.test' });
};

async function settled(jobId: string) {
  await s.kiln.services.jobs.settled(jobId);
  return (await s.kiln.services.jobs.get(jobId))!;
}

describe('without allowUnsigned', () => {
  let baseline: Record<string, string>;
  // The restores of the other tests, in whatever order they ran, keep their safety backups: counted before each test.
  let safetyBackups: number;
  const countSafetyBackups = async () =>
    (await s.db.query(`SELECT count(*)::int AS n FROM kiln.kiln_backup_details WHERE kind = 'PRE_RESTORE'`)).rows[0].n as number;
  beforeEach(async () => {
    baseline = await fingerprint(s.db);
    safetyBackups = await countSafetyBackups();
  });
  afterEach(async () => {
    // Nothing restored, no safety backup kept, no upload left.
    expect(await fingerprint(s.db)).toEqual(baseline);
    await noUploadsLeft();
    expect(await countSafetyBackups()).toBe(safetyBackups);
  });

  it.each([
    ['an unsigned file that adds an ADMIN (checksum made to fit)', 'UNSIGNED', () => craftBackup(doc, addIntruder, null), /carries no Kiln signature/],
    ['the same file signed by a Kiln with another key', 'OTHER_KEY', () => craftBackup(doc, addIntruder, new BackupSigner(`${TEST_BACKUP_SIGNING_KEY}-other`)), /another BACKUP_SIGNING_KEY/],
    [
      "Kiln's own file with an ADMIN added and its signature kept",
      'MISMATCH',
      async () => {
        const forged = (await craftBackup(doc, addIntruder, null)).toString();
        const signature = signed.toString().trimEnd().split('\n').at(-1)!;
        return Buffer.from(forged.replace(/\}\}\n$/, `},\n${signature}\n`));
      },
      /changed after Kiln wrote it/,
    ],
    ['an app format 1.0 file', 'UNSIGNED', async () => Buffer.from(appBackupText(await buildAppBackupDocument(s.db))), /app format 1\.0/],
  ])('refuses %s (BAD_USER_INPUT, signature %s)', async (_what, _signature, make, message) => {
    const res = await uploadRestore(s.kiln.url, s.token, await make());
    expect(res.body.errors).toBeUndefined();
    const job = await settled(res.body.data.restoreBackup.id);
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BAD_USER_INPUT', error: expect.stringMatching(message) });
    expect(job.error).toMatch(/allowUnsigned: true/);
  });
});

it('restores the forged file with allowUnsigned: true, and names the new ADMIN in the job and the audit log', async () => {
  const failure = await failedUploadTo(s.kiln, s.token, await craftBackup(doc, addIntruder, null));
  expect(failure.code).toBe('BAD_USER_INPUT');
  const res = await uploadRestore(s.kiln.url, s.token, await craftBackup(doc, addIntruder, null), undefined, { allowUnsigned: true });
  const job = await settled(res.body.data.restoreBackup.id);
  expect(job.status).toBe('COMPLETED');
  expect(job.message).toMatch(/intruder@evil\.test ADMIN/);
  expect(job.message).toMatch(/restored with allowUnsigned \(signature: UNSIGNED\)/);
  const { rows } = await s.db.query(`SELECT metadata FROM "AuditLog" WHERE action = 'SYSTEM_RESTORED' AND metadata->>'jobId' = $1`, [job.id]);
  expect(rows).toHaveLength(1);
  expect(rows[0].metadata).toMatchObject({ signature: 'UNSIGNED' });
  expect(JSON.stringify(rows[0].metadata.accounts)).toMatch(/intruder@evil\.test/);
});

it('restores a file this Kiln signed, downloaded and uploaded back, without the flag', async () => {
  const job = await settled((await uploadRestore(s.kiln.url, s.token, signed)).body.data.restoreBackup.id);
  expect(job.status).toBe('COMPLETED');
  expect(job.message).not.toMatch(/allowUnsigned/);
});

it('restores a stored Kiln backup by id: the checksum Kiln recorded vouches for it', async () => {
  const { jobId, backupId } = await startBackup(s);
  await finishedJob(s, jobId);
  const res = await gql(s.kiln.url, RESTORE, { id: backupId }, s.token);
  expect(res.errors).toBeUndefined();
  const job = await settled(res.data!.restoreBackup.id);
  expect(job.status).toBe('COMPLETED');
});

it("refuses a stored backup whose header was edited under Kiln's signature, even by id", async () => {
  const { jobId, backupId } = await startBackup(s);
  const { backup } = await finishedJob(s, jobId);
  const file = path.join(s.kiln.backupDir, backup.filename);
  const text = readFileSync(file, 'utf8');
  // The data (and so the recorded checksum) untouched; the header's options say something else.
  expect(text).toContain('"includeSessions":false');
  writeFileSync(file, text.replace('"includeSessions":false', '"includeSessions":true'));
  const res = await gql(s.kiln.url, RESTORE, { id: backupId }, s.token);
  const job = await settled(res.data!.restoreBackup.id);
  expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BAD_USER_INPUT', error: expect.stringMatching(/changed after Kiln wrote it/) });
});
