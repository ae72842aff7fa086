/**
 * Restores of the lending app's own backup files (format 1.0, shared/reference/README.md),
 * uploaded or named by the app's backup_records row: an exact round trip, empty
 * auditLogs/staffSessions meaning "not included", bad files refused with a typed error and
 * the live data untouched, and a restore cancelled inside its transaction leaving nothing.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { LENDING_TABLES } from '../src/domain';
import { appBackupText, buildAppBackupDocument, signAppBackup, writeAppBackupFile, type AppBackupDocument } from './support/app-backup-file';
import { failedUpload as failedUploadTo, fingerprint, RESTORE, uploadRestore, noUploadsLeft, statementWaitingOnLock } from './support/restore-helpers';
import { startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, TEST_ADMIN } from './support/test-kiln';

const FULL = { includeAuditLogs: true, includeSessions: true };
/** Tables a full restore gives back row for row (AuditLog also gains the restore's entry; sessions come back revoked). */
const EXACT = LENDING_TABLES.filter((t) => t !== 'AuditLog' && t !== 'StaffSession');

let s: SeededKiln;
let appDir: string;

beforeAll(async () => {
  appDir = mkdtempSync(path.join(tmpdir(), 'kiln-app-restore-'));
  s = await startSeededKiln(40, { APP_BACKUP_DIR: appDir });
  const on = await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  expect(on.errors).toBeUndefined();
});
afterAll(async () => {
  await s?.close();
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

/** md5 of `row` over the rows `where` selects, in id order: fingerprint()'s value for the defaults. */
async function tablePrint(table: string, where = 'true', params: unknown[] = [], row = 'row_to_json(x)::text'): Promise<string> {
  const { rows } = await s.db.query(`SELECT count(*) AS n, md5(coalesce(string_agg(${row}, ',' ORDER BY id), '')) AS h FROM "${table}" x WHERE ${where}`, params);
  return `${rows[0].n}:${rows[0].h}`;
}
/** Sessions but for revokedAt, which every restore sets. */
const sessionsPrint = () => tablePrint('StaffSession', 'true', [], `(to_jsonb(x) - 'revokedAt')::text`);

/** The live data moves on after a file was made: rows deleted and values changed in several tables. */
async function changeLiveData(tag: string) {
  await s.db.query(`UPDATE "Loan" SET notes = $1`, [tag]);
  await s.db.query(`UPDATE "Repayment" SET amount = amount + 1`);
  await s.db.query(`UPDATE "Union" SET name = name || $1`, [tag]);
  await s.db.query(`UPDATE "CompanySetting" SET name = $1`, [tag]);
  await s.db.query(`DELETE FROM "RepaymentAllocation" WHERE id IN (SELECT id FROM "RepaymentAllocation" ORDER BY id LIMIT 5)`);
  await s.db.query(`DELETE FROM "AuditLog" WHERE id IN (SELECT id FROM "AuditLog" ORDER BY id LIMIT 3)`);
  // Other users' sessions: the test admin's token stays valid.
  await s.db.query(
    `DELETE FROM "StaffSession" WHERE id IN (SELECT x.id FROM "StaffSession" x JOIN "User" u ON u.id = x."userId" WHERE u.email <> $1 ORDER BY x.id LIMIT 3)`,
    [TEST_ADMIN.email],
  );
}

/** Starts a restore of file bytes (upload) or a stored backup (id); the settled job row. */
async function restore(source: Buffer | { id: string }) {
  // The app's files carry no Kiln signature.
  const res = Buffer.isBuffer(source)
    ? (await uploadRestore(s.kiln.url, s.token, source, undefined, { allowUnsigned: true })).body
    : await gql(s.kiln.url, RESTORE, { ...source, allowUnsigned: true }, s.token);
  expect(res.errors).toBeUndefined();
  const id = res.data.restoreBackup.id;
  await s.kiln.services.jobs.settled(id);
  return (await s.kiln.services.jobs.get(id))!;
}

/** The job's SYSTEM_RESTORED entry id (exactly one). */
async function restoredEntry(jobId: string): Promise<string> {
  const { rows } = await s.db.query(`SELECT id FROM "AuditLog" WHERE action = 'SYSTEM_RESTORED' AND metadata->>'jobId' = $1`, [jobId]);
  expect(rows).toHaveLength(1);
  return rows[0].id;
}

/** A full file's restore: every table as in `source`, audit entries kept plus the restore's, sessions revoked. Logs in again. */
async function expectExactRestore(job: { id: string; status: string; error: string | null }, source: Record<string, string>, sessions: string) {
  expect(job).toMatchObject({ status: 'COMPLETED', error: null });
  expect(await fingerprint(s.db, EXACT)).toEqual(Object.fromEntries(EXACT.map((t) => [t, source[t]])));
  expect(await tablePrint('AuditLog', 'x.id <> $1', [await restoredEntry(job.id)])).toBe(source.AuditLog);
  expect(await sessionsPrint()).toBe(sessions);
  expect((await s.db.query(`SELECT count(*)::int AS n FROM "StaffSession" WHERE "revokedAt" IS NULL`)).rows[0].n).toBe(0);
  s.token = await loginToken(s.kiln.url); // the restore logged everybody out
}

describe('a bad format 1.0 file', () => {
  let doc: AppBackupDocument;
  let baseline: Record<string, string>;

  beforeAll(async () => {
    doc = await buildAppBackupDocument(s.db, FULL);
    // The live data moves on, so a file wrongly accepted shows in the fingerprint.
    await changeLiveData('after the file');
    baseline = await fingerprint(s.db);
  });
  afterEach(async () => {
    expect(await fingerprint(s.db)).toEqual(baseline);
    await noUploadsLeft();
  });

  /** The document as file bytes after `mutate`, re-signed when asked (to reach the checks past the checksum). */
  const variant = (mutate: (d: AppBackupDocument) => void, resign = false) => () => {
    const copy = structuredClone(doc);
    mutate(copy);
    if (resign) signAppBackup(copy);
    return Buffer.from(appBackupText(copy));
  };

  const failedUpload = (file: Buffer) => failedUploadTo(s.kiln, s.token, file, { allowUnsigned: true });

  it('refuses the file with one value changed and not re-signed (BACKUP_CORRUPT: checksum)', async () => {
    const failure = await failedUpload(variant((d) => (d.data.loans[0].notes = 'tampered'))());
    expect(failure).toEqual({ code: 'BACKUP_CORRUPT', message: expect.stringMatching(/does not match its checksum/) });
  });

  it.each([
    ['a checksum of 64 other hex digits', variant((d) => (d.metadata.checksum = '0'.repeat(64))), 'BACKUP_CORRUPT', /does not match its checksum/],
    ['no checksum', variant((d) => delete d.metadata.checksum), 'BACKUP_CORRUPT', /^Not a valid Kiln backup: metadata has no checksum/],
    ['version "2.0"', variant((d) => (d.metadata.version = '2.0'), true), 'BACKUP_CORRUPT', /unsupported format version "2\.0"/],
    ['an unknown data key', variant((d) => {
      d.data.hackers = [{ id: 'h1' }];
      d.metadata.recordCounts.hackers = 1;
    }, true), 'BAD_USER_INPUT', /tables this database does not have: hackers/],
    ['no loans', variant((d) => {
      delete d.data.loans;
      delete d.metadata.recordCounts.loans;
    }, true), 'BAD_USER_INPUT', /lacks required tables: Loan$/],
    ['only its first half', () => {
      const bytes = variant(() => undefined)();
      return bytes.subarray(0, Math.floor(bytes.length / 2));
    }, 'BACKUP_CORRUPT', /^Not a valid Kiln backup: the file ends before the JSON document is complete \(truncated\?\)/],
    ['a field that does not exist', variant((d) => (d.data.loans[3].hackerColumn = 1), true), 'BAD_USER_INPUT', /Table "Loan" .*column this database does not know: "hackerColumn"/],
    ['text in a decimal field', variant((d) => (d.data.loans[0].principalAmount = 'lots'), true), 'BAD_USER_INPUT', /Table "Loan" .*"lots" in "principalAmount" \(row \d+\): not a number/],
    ['a date that is not one', variant((d) => (d.data.repayments[0].paidAt = 'the day after payday'), true), 'BAD_USER_INPUT', /Table "Repayment" .*"paidAt" .*not an ISO 8601 timestamp/],
    // PostgreSQL would take these, meaning something that depends on the day and DateStyle of the restore.
    ['"yesterday" for a date', variant((d) => (d.data.repayments[0].paidAt = 'yesterday'), true), 'BAD_USER_INPUT', /"yesterday" in "paidAt" .*not an ISO 8601 timestamp/],
    ['a US-style date', variant((d) => (d.data.repayments[0].paidAt = '03/04/2024'), true), 'BAD_USER_INPUT', /"03\/04\/2024" in "paidAt" .*not an ISO 8601 timestamp/],
    ['a number in a text field', variant((d) => (d.data.loans[0].notes = 42), true), 'BAD_USER_INPUT', /42 in "notes" .*not a string/],
    ['"yes" in a boolean field', variant((d) => (d.data.users[0].isActive = 'yes'), true), 'BAD_USER_INPUT', /"yes" in "isActive" .*not true or false/],
    ['data before metadata', () => Buffer.from(JSON.stringify({ data: doc.data, metadata: doc.metadata }, null, 2)), 'BACKUP_CORRUPT', /^Not a valid Kiln backup: data comes before metadata/],
    ['text that is not JSON', () => Buffer.from('{\n  "metadata": {\n    "version": "1.0",\n    oops'), 'BACKUP_CORRUPT', /^Not a valid Kiln backup: invalid JSON/],
  ])('refuses a file with %s', async (_what, make, code, message) => {
    const failure = await failedUpload(make());
    expect(failure.code).toBe(code);
    expect(failure.message).toMatch(message);
  });
});

it('restores a full file exactly, plain and gzipped, after the live data moved on', async () => {
  // JSON columns holding plain values (the app's audit entries do): each must come back as it was, not as text.
  await s.db.query(`UPDATE "AuditLog" SET "after" = 'true', "before" = '"a plain string"', metadata = '"{}"'
                     WHERE id IN (SELECT id FROM "AuditLog" ORDER BY id LIMIT 2)`);
  const text = appBackupText(await buildAppBackupDocument(s.db, FULL));
  const [source, sessions] = [await fingerprint(s.db), await sessionsPrint()];

  await changeLiveData('after the full file');
  // Every part the restore must put back really differs now.
  expect(await fingerprint(s.db, EXACT)).not.toEqual(Object.fromEntries(EXACT.map((t) => [t, source[t]])));
  expect(await tablePrint('AuditLog')).not.toBe(source.AuditLog);
  expect(await sessionsPrint()).not.toBe(sessions);
  await expectExactRestore(await restore(Buffer.from(text)), source, sessions);

  await changeLiveData('after the first restore');
  await expectExactRestore(await restore(gzipSync(text)), source, sessions);
  await noUploadsLeft();
});

it('keeps the live audit log and sessions when the file left them out (empty arrays, the app default)', async () => {
  const doc = await buildAppBackupDocument(s.db);
  expect([doc.data.auditLogs, doc.data.staffSessions]).toEqual([[], []]);
  const source = await fingerprint(s.db, EXACT);

  await changeLiveData('after the file without audit');
  const admin = (await s.db.query(`SELECT id FROM "User" WHERE email = $1`, [TEST_ADMIN.email])).rows[0].id;
  await s.db.query(`INSERT INTO "AuditLog" (id, "actorUserId", action, "entityName", "entityId") VALUES ('a-late', $1, 'X', 'Y', 'Z')`, [admin]);
  await s.db.query(`INSERT INTO "StaffSession" (id, "userId", "jwtId", "expiresAt") VALUES ('s-late', $1, 'j-late', now() + interval '1 hour')`, [admin]);
  const [audit, sessions] = [await tablePrint('AuditLog'), await sessionsPrint()];

  const job = await restore(Buffer.from(appBackupText(doc)));
  expect(job).toMatchObject({ status: 'COMPLETED', error: null });
  expect(await fingerprint(s.db, EXACT)).toEqual(source);
  // Every live audit entry and session is still there (sessions revoked), plus the restore's entry.
  expect(await tablePrint('AuditLog', 'x.id <> $1', [await restoredEntry(job.id)])).toBe(audit);
  expect(await sessionsPrint()).toBe(sessions);
  s.token = await loginToken(s.kiln.url);
});

it('a restore cancelled inside its transaction leaves the live data as it was', async () => {
  const file = Buffer.from(appBackupText(await buildAppBackupDocument(s.db, FULL)));
  await changeLiveData('after the cancelled file');
  const before = await fingerprint(s.db);

  // A reader of AuditLog: the safety backup reads past it, while the restore's first ALTER TABLE
  // (dropping AuditLog's foreign key, inside its transaction) waits for it. Held there, the restore
  // has locked no table yet, so the cancel request can still authenticate (it reads User and
  // StaffSession, which the restore locks from its next statement on until it ends).
  const reader = new Client({ connectionString: s.kiln.databaseUrl });
  await reader.connect();
  let jobId: string;
  try {
    await reader.query('BEGIN');
    await reader.query('LOCK TABLE "AuditLog" IN ACCESS SHARE MODE');
    const res = await uploadRestore(s.kiln.url, s.token, file, undefined, { allowUnsigned: true });
    expect(res.body.errors).toBeUndefined();
    jobId = res.body.data.restoreBackup.id;
    const waiting = await statementWaitingOnLock(s.db);
    expect(waiting.query).toMatch(/^ALTER TABLE "AuditLog"/);
    // Reading the accounts (to name what the restore changes) takes only a read lock, which logins pass.
    const held = await s.db.query(
      `SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = $1 AND l.granted AND l.mode <> 'AccessShareLock' AND c.relname IN ('User', 'StaffSession')`,
      [waiting.pid],
    );
    expect(held.rows).toEqual([]);
    expect((await gql(s.kiln.url, 'mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: jobId }, s.token)).errors).toBeUndefined();
  } finally {
    await reader.query('COMMIT').catch(() => undefined);
    await reader.end();
  }
  await s.kiln.services.jobs.settled(jobId);
  expect(await s.kiln.services.jobs.get(jobId)).toMatchObject({ status: 'CANCELLED', error: 'cancelled by an administrator' });
  expect(await fingerprint(s.db)).toEqual(before);
  await noUploadsLeft();
});

it('restoreBackup(id:) of a row the app wrote restores exactly as the upload does', async () => {
  const file = path.join(appDir, 'backup_2026-03-01T02-00-00-000Z.json');
  const doc = await writeAppBackupFile(s.db, file, FULL);
  const [source, sessions] = [await fingerprint(s.db), await sessionsPrint()];
  // As the app's backup service inserts it (Prisma create): its own lowercase values.
  await s.db.query(
    `INSERT INTO backup_records (id, filename, "fileSize", location, "cloudinaryUrl", "localPath", type, status, "recordCounts", error, "createdAt", "createdBy")
     VALUES ('app-made', $1, $2, 'local', NULL, $3, 'manual', 'completed', $4, NULL, now(), NULL)`,
    [path.basename(file), statSync(file).size, file, JSON.stringify(doc.metadata.recordCounts)],
  );

  await changeLiveData('after the app backup');
  const job = await restore({ id: 'app-made' });
  expect(job.message).toMatch(/from backup app-made/);
  await expectExactRestore(job, source, sessions);
});
