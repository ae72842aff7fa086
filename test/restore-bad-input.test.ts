import { readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { errorCode, gql, startTestKiln } from './support/test-kiln';
import { whileTableLocked, backupFileText, finishedJob, parseBackupFile, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { craftBackup, failedUpload as failedUploadTo, fingerprint, RESTORE, tableShape, uploadRestore, noUploadsLeft, uploadsLeft } from './support/restore-helpers';
import { until } from './support/until';

let s: SeededKiln;
let backup: { id: string; filename: string; checksum: string };
let plain: Buffer;
let doc: any;
let baseline: Record<string, string>;
/** The live row of the first Loan in the backup, as PostgreSQL reads it. */
let firstLoanRow: string;
let shape: unknown;

beforeAll(async () => {
  s = await startSeededKiln(40);
  backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  plain = Buffer.from(backupFileText(path.join(s.kiln.backupDir, backup.filename)));
  doc = parseBackupFile(path.join(s.kiln.backupDir, backup.filename));
  const on = await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  expect(on.errors).toBeUndefined();
  baseline = await fingerprint(s.db);
  firstLoanRow = await liveLoan(doc.data.Loan[0].id);
  shape = await tableShape(s.db);
});
afterAll(async () => s?.close());

const failedUpload = (file: Buffer) => failedUploadTo(s.kiln, s.token, file);

afterEach(async () => {
  // Whatever happened, the live data is exactly as before and no upload is left over.
  expect(await fingerprint(s.db)).toEqual(baseline);
  // Keys and indexes dropped inside the refused restore's transaction are back with its rollback.
  expect(await tableShape(s.db)).toEqual(shape);
  await noUploadsLeft();
});

async function liveLoan(id: string): Promise<string> {
  return (await s.db.query('SELECT row_to_json(l)::text AS j FROM "Loan" l WHERE id = $1', [id])).rows[0]?.j;
}

it.each([
  ['not JSON', () => Buffer.from('hello, I am not a backup'), 'BACKUP_CORRUPT', /Not a valid Kiln backup/],
  ['an empty file', () => Buffer.alloc(0), 'BACKUP_CORRUPT', /Not a valid Kiln backup/],
  ['a truncated file', () => plain.subarray(0, Math.floor(plain.length / 2)), 'BACKUP_CORRUPT', /Not a valid Kiln backup/],
  ['a truncated gzip', () => { const gz = gzipSync(plain); return gz.subarray(0, gz.length - 20); }, 'BACKUP_CORRUPT', /Not a valid Kiln backup/],
  ['one flipped byte in the data', () => {
    const text = plain.toString();
    const at = text.indexOf('"firstName":"') + 14;
    return Buffer.from(text.slice(0, at) + (text[at] === 'x' ? 'y' : 'x') + text.slice(at + 1));
  }, 'BACKUP_CORRUPT', /does not match its checksum/],
])('refuses %s', async (_what, make, code, message) => {
  const failure = await failedUpload(make());
  expect(failure.code).toBe(code);
  expect(failure.message).toMatch(message);
});

it.each([
  ['an unknown table', (d: any) => (d.Hacker = [{ id: 'h' }]), /tables this database does not have: Hacker/],
  ['an unknown column', (d: any) => (d.Loan[0].hackerColumn = 1), /column this database does not know: "hackerColumn"/],
  ['a missing required column', (d: any) => delete d.Loan[0].loanNumber, /lacks the required column "loanNumber"/],
  ['text in a numeric column', (d: any) => (d.Loan[0].principalAmount = 'lots'), /Table "Loan" .*"lots" in "principalAmount" .*not a number/],
  ['a date PostgreSQL reads by the clock', (d: any) => (d.Loan[0].startDate = 'yesterday'), /"yesterday" in "startDate" .*not an ISO 8601 timestamp/],
  ['a bad date', (d: any) => (d.Loan[0].startDate = '2024-13-45T99:00:00'), /wrong type in table "Loan"/],
  ['a bad enum value', (d: any) => (d.Loan[0].status = 'STOLEN'), /wrong type in table "Loan".*LoanStatus/],
  ['duplicate primary keys', (d: any) => d.User.push({ ...d.User[0] }), /duplicate key in table "User"/],
  ['a broken foreign key', (d: any) => (d.Loan[0].unionId = 'no-such-union'), /missing row in table "Loan"/],
  ['deeply nested JSON in a jsonb column', (d: any) => {
    const row = JSON.stringify({ ...d.ReportSession[0], reportData: '__DEEP__' });
    d.ReportSession[0] = row.replace('"__DEEP__"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  }, /nested too deeply in table "ReportSession"/],
])('refuses a well-formed file with %s (BAD_USER_INPUT)', async (_what, mutate, message) => {
  const failure = await failedUpload(await craftBackup(doc, (data) => mutate(data)));
  expect(failure.code).toBe('BAD_USER_INPUT');
  expect(failure.message).toMatch(message);
  // The row the file changed is, in the database, still the one the backup was taken from.
  expect(await liveLoan(doc.data.Loan[0].id)).toBe(firstLoanRow);
});

/** Restores the stored backup by id while its file holds `bytes` instead (put back after); the finished job. */
async function restoreStoredFileReplacedWith(bytes: Buffer) {
  const file = path.join(s.kiln.backupDir, backup.filename);
  const original = readFileSync(file);
  writeFileSync(file, bytes);
  try {
    const res = await gql(s.kiln.url, RESTORE, { id: backup.id }, s.token);
    const id = res.data!.restoreBackup.id;
    await s.kiln.services.jobs.settled(id);
    return (await s.kiln.services.jobs.get(id))!;
  } finally {
    writeFileSync(file, original);
  }
}

it('refuses a stored file whose checksum was edited to match tampered data', async () => {
  const job = await restoreStoredFileReplacedWith(await craftBackup(doc, (d) => (d.Loan[0].notes = 'tampered')));
  expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
  expect(job.error).toMatch(/differs from the one recorded/);
});

it('refuses a stored file with an unknown column past the first row of a table (only first rows are parsed for stored files)', async () => {
  const before = await fingerprint(s.db);
  const job = await restoreStoredFileReplacedWith(await craftBackup(doc, (d) => (d.Loan[1] = { ...d.Loan[1], smuggled: 'x' })));
  // The recorded checksum catches it before anything is touched.
  expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
  expect(await fingerprint(s.db)).toEqual(before);
});

it('refuses a single 100 MB string without holding it', async () => {
  const text = plain.toString();
  const at = text.indexOf('\n', text.indexOf('"User":[')) + 1;
  const huge = Buffer.concat([Buffer.from(text.slice(0, at) + '{"id":"huge","notes":"'), Buffer.alloc(100 * 1024 * 1024, 'a'), Buffer.from('"},\n' + text.slice(at))]);
  const failure = await failedUpload(huge);
  expect(failure.code).toBe('BACKUP_CORRUPT');
  expect(failure.message).toMatch(/longer than/);
}, 60_000);

it('refuses both id and file, and neither', async () => {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: 'mutation($id: ID, $file: Upload) { restoreBackup(id: $id, file: $file) { id } }', variables: { id: backup.id, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([plain]), 'backup.json');
  const res = await fetch(`${s.kiln.url}/graphql`, { method: 'POST', headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${s.token}` }, body: form });
  expect(((await res.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  expect(errorCode(await gql(s.kiln.url, RESTORE, {}, s.token))).toBe('BAD_USER_INPUT');
});

it('refuses a file over MAX_UPLOAD_BYTES', async () => {
  const small = await startTestKiln({ MAX_UPLOAD_BYTES: '4096', DATA_DIR: s.kiln.dataDir }, s.kiln.databaseUrl);
  try {
    const res = await uploadRestore(small.url, s.token, plain);
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/larger than MAX_UPLOAD_BYTES/);
  } finally {
    await small.close();
  }
});

it('survives an upload cut off mid-way, keeping nothing', async () => {
  const url = new URL(s.kiln.url);
  const boundary = 'kilnboundary';
  const head = [
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: 'mutation($file: Upload) { restoreBackup(file: $file) { id } }', variables: { file: null } })}\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.file"]}\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="b.json"\r\nContent-Type: application/json\r\n\r\n`,
  ].join('');
  const restoresBefore = (await gql(s.kiln.url, '{ jobs(limit: 500) { kind } }', {}, s.token)).data!.jobs.filter((j: { kind: string }) => j.kind === 'RESTORE').length;
  const socket = net.connect(Number(url.port), url.hostname);
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${s.token}\r\napollo-require-preflight: true\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${head.length + plain.length + 100}\r\n\r\n`,
  );
  socket.write(head);
  socket.write(plain.subarray(0, Math.floor(plain.length / 3)));
  // Cut once the gateway is storing the file (graphql-upload's temporary file has bytes), then
  // wait until it has let go of it: the request was read and abandoned.
  const bytesStored = () => uploadsLeft().filter((f) => (statSync(path.join(tmpdir(), f), { throwIfNoEntry: false })?.size ?? 0) > 0);
  await until('the upload to be stored as it arrives', bytesStored, (files) => files.length > 0, 30_000, 20);
  socket.destroy();
  await noUploadsLeft();
  // No restore job was started, and the gateway still answers.
  const jobs = (await gql(s.kiln.url, '{ jobs(limit: 500) { kind } }', {}, s.token)).data!.jobs;
  expect(jobs.filter((j: { kind: string }) => j.kind === 'RESTORE')).toHaveLength(restoresBefore);
});

it('refuses a restore while another job runs with CONFLICT', async () => {
  const running = await whileTableLocked(s, async () => {
    const job = await startBackup(s);
    expect(errorCode(await gql(s.kiln.url, RESTORE, { id: backup.id }, s.token))).toBe('CONFLICT');
    return job;
  });
  await finishedJob(s, running.jobId);
  baseline = await fingerprint(s.db); // the backup's BACKUP_CREATED audit entry is expected
});

