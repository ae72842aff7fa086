import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { gql, startTestKiln, type TestKiln } from './support/test-kiln';
import { backupFileText, finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { fingerprint, uploadRestore } from './support/restore-helpers';

// Files made to cost far more to read than to send (issue 10, finding 6): refused by the reader's
// bounds (MAX_BACKUP_LINE_BYTES, MAX_GZIP_EXPANSION, at their defaults here) while /health keeps answering.

const MiB = 1024 * 1024;
/** Generous: a gateway with nothing to do answers in a few ms; a starved one took 0.5 s and more. */
const HEALTH_BOUND_MS = 1000;

let s: SeededKiln;
let backup: { id: string; filename: string };
let lines: string[];
let baseline: Record<string, string>;

beforeAll(async () => {
  s = await startSeededKiln(40);
  backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  lines = backupFileText(path.join(s.kiln.backupDir, backup.filename)).split('\n');
  const on = await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  expect(on.errors).toBeUndefined();
  baseline = await fingerprint(s.db);
});
afterAll(async () => s?.close());

afterEach(async () => {
  // Refused before anything was touched.
  expect(await fingerprint(s.db)).toEqual(baseline);
});

const spaceMembers = new Map<number, Buffer>();
/** gzip of `n` spaces, made once per size: a bomb is many of these, never held expanded. */
function spaces(n: number): Buffer {
  if (!spaceMembers.has(n)) spaceMembers.set(n, gzipSync(Buffer.alloc(n, ' '), { level: 9 }));
  return spaceMembers.get(n)!;
}

/**
 * The seeded backup with its Loan rows replaced by padded copies of its first Loan row, written
 * as concatenated gzip members (a valid gzip stream). Each row is a "notes" value of `noise`
 * random characters (so it compresses like data), `spaces` bytes of whitespace, then the real
 * row's fields: every row parses and has only known columns.
 */
function bomb(groups: Array<{ rows: number; spaces: number; noise?: number }>): Buffer {
  const start = lines.indexOf('"Loan":[');
  const rest = lines[start + 1].replace(/,$/, '').slice(1);
  let end = start + 1;
  while (lines[end] !== ']' && lines[end] !== '],') end++;
  const members: Buffer[] = [gzipSync(lines.slice(0, start + 1).join('\n') + '\n')];
  const total = groups.reduce((n, g) => n + g.rows, 0);
  let written = 0;
  for (const group of groups) {
    for (let i = 0; i < group.rows; i++) {
      const noise = group.noise ? randomBytes(Math.ceil((group.noise * 3) / 4)).toString('base64').slice(0, group.noise) : '';
      members.push(gzipSync(`{"notes":"${noise}",`), spaces(group.spaces), gzipSync(`${rest}${++written < total ? ',' : ''}\n`));
    }
  }
  members.push(gzipSync(lines.slice(end).join('\n')));
  return Buffer.concat(members);
}

/** Uploads `file` for restore while polling /health back to back; the settled job, its seconds, and every /health answer. */
async function restoreWhileWatched(file: Buffer, kiln: TestKiln = s.kiln) {
  const upload = await uploadRestore(kiln.url, s.token, file, undefined, { allowUnsigned: true });
  expect(upload.body.errors).toBeUndefined();
  const id: string = upload.body.data.restoreBackup.id;
  const started = performance.now();
  let settled = false;
  const done = kiln.services.jobs.settled(id).finally(() => (settled = true));
  const health: Array<{ status: number; ms: number }> = [];
  while (!settled) {
    const asked = performance.now();
    const res = await fetch(`${kiln.url}/health`);
    await res.text();
    health.push({ status: res.status, ms: performance.now() - asked });
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  return { job: (await kiln.services.jobs.get(id))!, seconds, health };
}

function expectHealthy(health: Array<{ status: number; ms: number }>, atLeast: number): void {
  expect(health.length).toBeGreaterThanOrEqual(atLeast);
  expect(health.filter((h) => h.status !== 200)).toEqual([]);
  expect(Math.max(...health.map((h) => h.ms))).toBeLessThan(HEALTH_BOUND_MS);
}

it('refuses a gzip whitespace bomb (rows padded with 48 MB of spaces) within its first MBs, naming MAX_GZIP_EXPANSION', async () => {
  // The bomb, 40 rows instead of 437: 1.9 GB expanded from 2 MB.
  const file = bomb([{ rows: 40, spaces: 48e6 }]);
  expect(file.length).toBeLessThan(3e6);
  const { job, seconds, health } = await restoreWhileWatched(file);
  expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
  expect(job.error).toMatch(/^The backup was refused: the gzip data expands more than 100-fold .* If the file is genuine, raise MAX_GZIP_EXPANSION$/);
  // Refused after a few MB of output, not after the 1.9 GB (real figure: a few ms).
  expect(seconds).toBeLessThan(10);
  expectHealthy(health, 1);
});

it('refuses a row over MAX_BACKUP_LINE_BYTES in a gzip file that compresses like data, naming the setting', async () => {
  // 20 MiB in one row at about 60-fold: under the expansion bound, over the 16 MiB line bound.
  const file = bomb([{ rows: 1, spaces: 20 * MiB, noise: 400_000 }]);
  const { job, health } = await restoreWhileWatched(file);
  expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
  expect(job.error).toMatch(/^The backup was refused: line \d+: line is longer than the 16777216-byte limit\. If the file is genuine, raise MAX_BACKUP_LINE_BYTES$/);
  expectHealthy(health, 1);
});

it('keeps /health answering while a bomb made to stay under the bounds for a while is read, then refuses it', async () => {
  // 10 rows of 4 MiB at about 60-fold, then rows of bare spaces until the whole passes 100-fold
  // (at the 8th): ~75 MB of rows to parse before the bound is reached.
  const file = bomb([
    { rows: 10, spaces: 4 * MiB, noise: 90_000 },
    { rows: 20, spaces: 4 * MiB },
  ]);
  const { job, health } = await restoreWhileWatched(file);
  expect(job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
  expect(job.error).toMatch(/raise MAX_GZIP_EXPANSION$/);
  // It ran long enough to be asked many times, and answered each time.
  expectHealthy(health, 5);
}, 60_000);

it('fails verify\'s read check on a stored file replaced by a bomb, naming the setting', async () => {
  const file = path.join(s.kiln.backupDir, backup.filename);
  const original = readFileSync(file);
  writeFileSync(file, bomb([{ rows: 40, spaces: 48e6 }]));
  try {
    const res = await gql(s.kiln.url, 'mutation($id: ID!) { verifyBackup(id: $id) { id } }', { id: backup.id }, s.token);
    const id = res.data!.verifyBackup.id;
    await s.kiln.services.jobs.settled(id);
    const job = (await gql(s.kiln.url, 'query($id: ID!) { job(id: $id) { status verification { ok checks { name ok detail } } } }', { id }, s.token)).data!.job;
    expect(job.verification.ok).toBe(false);
    expect(job.verification.checks).toContainEqual({
      name: 'reads and decompresses',
      ok: false,
      detail: expect.stringMatching(/expands more than 100-fold .* raise MAX_GZIP_EXPANSION$/),
    });
  } finally {
    writeFileSync(file, original);
  }
});

it('keeps to MAX_BACKUP_LINE_BYTES and MAX_GZIP_EXPANSION as set in the environment', async () => {
  const strict = await startTestKiln({ MAX_BACKUP_LINE_BYTES: String(MiB), MAX_GZIP_EXPANSION: '20', DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl);
  try {
    // 2 MiB in one row at ~20-fold: within the defaults, over the 1 MiB set here.
    const long = await restoreWhileWatched(bomb([{ rows: 1, spaces: 2 * MiB, noise: 140_000 }]), strict);
    expect(long.job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
    expect(long.job.error).toMatch(/line is longer than the 1048576-byte limit\. If the file is genuine, raise MAX_BACKUP_LINE_BYTES$/);
    // 12 rows of 900 KiB at ~50-fold: within the default 100, over the 20 set here.
    const dense = await restoreWhileWatched(bomb([{ rows: 12, spaces: 900 * 1024, noise: 24_000 }]), strict);
    expect(dense.job).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
    expect(dense.job.error).toMatch(/expands more than 20-fold .* raise MAX_GZIP_EXPANSION$/);
  } finally {
    await strict.close();
  }
});

it('keeps a backup whose data go past the read limits, says which settings reading it needs, and those settings read it', async () => {
  // A note of 17 MB of one letter: one row over 16 MiB, and data that gzip well past 100-fold.
  const { rows } = await s.db.query<{ id: string; content: string }>(`SELECT id, content FROM "UserNote" ORDER BY id LIMIT 1`);
  await s.db.query(`UPDATE "UserNote" SET content = repeat('x', 17 * 1024 * 1024) WHERE id = $1`, [rows[0].id]);
  let roomy: TestKiln | undefined;
  let written: { id: string } | undefined;
  try {
    const job = await finishedJob(s, (await startBackup(s)).jobId);
    written = job.backup;
    expect([job.status, job.backup.status]).toEqual(['COMPLETED', 'COMPLETED']);
    const lineBytes = /a row is (\d+) bytes, longer than MAX_BACKUP_LINE_BYTES \(16777216\): verifying or restoring this backup needs MAX_BACKUP_LINE_BYTES=(\d+) or more/.exec(job.message);
    const expansion = /more than MAX_GZIP_EXPANSION \(100\) allows: verifying or restoring this backup needs MAX_GZIP_EXPANSION=(\d+) or more/.exec(job.message);
    expect([lineBytes, expansion]).toEqual([expect.anything(), expect.anything()]);
    expect(Number(lineBytes![1])).toBeGreaterThan(17 * MiB);

    // What the warning says: this gateway cannot read it back ...
    expect((await verified(s.kiln, s.token, written!.id)).ok).toBe(false);
    // ... one with the settings it names can, restore drill included.
    roomy = await startTestKiln(
      { MAX_BACKUP_LINE_BYTES: lineBytes![2], MAX_GZIP_EXPANSION: expansion![1], DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir },
      s.kiln.databaseUrl,
    );
    // The same database and secret: the session of this file's admin is valid there too.
    const report = await verified(roomy, s.token, written!.id, true);
    expect(report.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  } finally {
    await roomy?.close();
    if (written) await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: written.id }, s.token);
    await s.db.query(`UPDATE "UserNote" SET content = $2 WHERE id = $1`, [rows[0].id, rows[0].content]);
    // Deleting the backup wrote its audit entry: the files refused after this start from here.
    baseline = await fingerprint(s.db);
  }
});

/** A VERIFY job's report, once it has finished. */
async function verified(kiln: TestKiln, token: string, id: string, restoreDrill = false) {
  const res = await gql(kiln.url, 'mutation($id: ID!, $drill: Boolean) { verifyBackup(id: $id, restoreDrill: $drill) { id } }', { id, drill: restoreDrill }, token);
  expect(res.errors).toBeUndefined();
  await kiln.services.jobs.settled(res.data!.verifyBackup.id);
  return (await gql(kiln.url, 'query($id: ID!) { job(id: $id) { verification { ok checks { name ok detail } } } }', { id: res.data!.verifyBackup.id }, token)).data!.job.verification;
}
