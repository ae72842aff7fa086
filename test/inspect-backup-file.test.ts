/**
 * inspectBackupFile: what an uploaded file holds, read through as a restore's first pass reads it,
 * before anyone confirms a restore. It changes nothing and leaves no upload behind.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { craftBackup, fingerprint, noUploadsLeft, uploadOperation } from './support/restore-helpers';
import { gql } from './support/test-kiln';

const INSPECT = `mutation($file: Upload!) {
  inspectBackupFile(file: $file) { filename bytes createdAt kilnVersion encrypted signature rows tables { name rows } tablesKept }
}`;

let s: SeededKiln;
let backup: { id: string; filename: string; recordCounts: Record<string, number> };
let stored: Buffer;
/** The stored file decrypted: the document as Kiln wrote it (gzip or not). */
let plain: Buffer;
let baseline: Record<string, string>;

beforeAll(async () => {
  s = await startSeededKiln(20, { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  backup = (await finishedJob(s, (await startBackup(s, { includeAuditLogs: true })).jobId)).backup;
  stored = readFileSync(path.join(s.kiln.backupDir, backup.filename));
  const chunks: Buffer[] = [];
  for await (const chunk of await s.kiln.services.backups.openFile((await s.kiln.services.backups.require(backup.id)))) chunks.push(chunk as Buffer);
  plain = Buffer.concat(chunks);
  await maintenance(true);
  baseline = await fingerprint(s.db);
});
afterAll(async () => s?.close());
afterEach(async () => {
  expect(await fingerprint(s.db)).toEqual(baseline);
  await noUploadsLeft();
});

async function maintenance(enabled: boolean): Promise<void> {
  const res = await gql(s.kiln.url, 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on) { enabled } }', { on: enabled }, s.token);
  expect(res.data?.setMaintenanceMode.enabled).toBe(enabled);
}

const documentText = () => (plain[0] === 0x1f && plain[1] === 0x8b ? gunzipSync(plain) : plain).toString('utf8');
const inspect = (file: Buffer) => uploadOperation(s.kiln.url, s.token, INSPECT, file);

it('reports a stored backup as Kiln wrote it: encrypted, signed, its tables and counts', async () => {
  const { body } = await inspect(stored);
  expect(body.errors).toBeUndefined();
  const report = body.data.inspectBackupFile;
  expect(report).toMatchObject({ filename: 'backup.json', bytes: stored.length, encrypted: true, signature: 'VALID' });
  expect(Object.fromEntries(report.tables.map((t: { name: string; rows: number }) => [t.name, t.rows]))).toEqual(backup.recordCounts);
  expect(report.rows).toBe(Object.values(backup.recordCounts).reduce((a, b) => a + b, 0));
  expect(report.tablesKept).toEqual(['StaffSession']);
  expect(new Date(report.createdAt).getTime()).toBeLessThanOrEqual(Date.now());
});

it('says UNSIGNED for a file without a signature and MISMATCH for a signed file edited after, without refusing either', async () => {
  const doc = JSON.parse(documentText());
  const unsigned = await inspect(await craftBackup(doc, () => undefined, null));
  expect(unsigned.body.data.inspectBackupFile.signature).toBe('UNSIGNED');
  expect(unsigned.body.data.inspectBackupFile.encrypted).toBe(false);

  const signed = await craftBackup(doc);
  const edited = Buffer.from(signed.toString('utf8').replace(/"kilnVersion":"[^"]*"/, '"kilnVersion":"9.9.9"'));
  const mismatch = await inspect(gzipSync(edited));
  expect(mismatch.body.data.inspectBackupFile).toMatchObject({ signature: 'MISMATCH', kilnVersion: '9.9.9' });
});

it.each([
  ['not a backup', () => Buffer.from('hello'), 'BACKUP_CORRUPT', /Not a valid Kiln backup/],
  ['a truncated file', () => stored.subarray(0, Math.floor(stored.length / 2)), 'BACKUP_CORRUPT', /.+/],
  ['changed data', () => {
    return Buffer.from(documentText().replace(/"firstName":"(.)/, (_m, c: string) => `"firstName":"${c === 'x' ? 'y' : 'x'}`));
  }, 'BACKUP_CORRUPT', /does not match its checksum/],
])('refuses %s with a typed error', async (_what, make, code, message) => {
  const { body } = await inspect(make());
  expect(body.errors?.[0]?.extensions?.code).toBe(code);
  expect(body.errors?.[0]?.message).toMatch(message);
});

it('is refused outside maintenance mode, before the file is read, like every upload', async () => {
  await maintenance(false);
  try {
    const { status, body } = await inspect(stored);
    expect(status).toBe(409);
    expect(body.errors[0].extensions.code).toBe('MAINTENANCE_REQUIRED');
  } finally {
    await maintenance(true);
    baseline = await fingerprint(s.db); // the two switches wrote their audit entries
  }
});
