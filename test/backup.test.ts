import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createClient } from 'graphql-ws';
import { Client } from 'pg';
import WebSocket from 'ws';
import { createDataSource } from '../src/db/data-source';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { freshDatabase } from './support/test-database';
import bcrypt from 'bcryptjs';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';

const CREATE = 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id kind status backup { id status } } }';
const JOB = 'query($id: ID!) { job(id: $id) { id status percent error message rowsDone backup { id status filename fileSize compressed checksum recordCounts storedLocally createdBy { email } } } }';

let kiln: TestKiln;
let token: string;
let db: Client;

beforeAll(async () => {
  // Seeded before the gateway starts: the seeder wants empty tables, the gateway adds its admin.
  const url = await freshDatabase();
  const ds = createDataSource(url, 2);
  await ds.initialize();
  await ds.runMigrations();
  await ds.destroy();
  db = new Client({ connectionString: url });
  await db.connect();
  await seedDemoData(db, { members: 150, seed: 5 });
  // Seeded admins exist, so no bootstrap admin is made: add the test's own.
  await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ('test-admin', $1, $2, 'ADMIN', now())`, [
    TEST_ADMIN.email,
    await bcrypt.hash(TEST_ADMIN.password, 4),
  ]);
  kiln = await startTestKiln({}, url);
  token = await loginToken(kiln.url);
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

async function finished(jobId: string) {
  await kiln.services.jobs.settled(jobId);
  return (await gql(kiln.url, JOB, { id: jobId }, token)).data!.job;
}


it('backs up every lending table consistently; the file round-trips every row exactly', async () => {
  const res = await gql(kiln.url, CREATE, { i: { includeAuditLogs: true, includeSessions: true } }, token);
  expect(res.errors).toBeUndefined();
  expect(res.data!.createBackup).toMatchObject({ kind: 'BACKUP', status: 'RUNNING', backup: { status: 'IN_PROGRESS' } });
  const job = await finished(res.data!.createBackup.id);
  expect(job.status).toBe('COMPLETED');
  expect(job.percent).toBe(100);
  const backup = job.backup;
  expect(backup).toMatchObject({ status: 'COMPLETED', storedLocally: true, createdBy: { email: 'root@kiln.test' } });

  const dir = kiln.backupDir;
  const file = path.join(dir, backup.filename);
  const bytes = readFileSync(file);
  expect(bytes.length).toBe(backup.fileSize);
  const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  expect(isGzip).toBe(backup.compressed);
  expect(backup.filename.endsWith('.json.gz')).toBe(isGzip);
  const doc = JSON.parse((isGzip ? gunzipSync(bytes) : bytes).toString('utf8'));
  expect(doc.format).toBe('kiln-backup');
  expect(doc.checksum.value).toBe(backup.checksum);
  expect(doc.recordCounts).toEqual(backup.recordCounts);
  expect(Object.keys(doc.data)).toContain('AuditLog');

  for (const table of Object.keys(doc.data)) {
    const { rows } = await db.query(`SELECT row_to_json(t)::text AS j FROM "${table}" t`);
    const fromDb = new Set(rows.map((r) => JSON.stringify(JSON.parse(r.j))));
    const fromFile: string[] = doc.data[table].map((r: unknown) => JSON.stringify(r));
    expect(doc.recordCounts[table]).toBe(fromFile.length);
    // Every row in the file is a row of the database, exactly (types, unicode, nulls).
    for (const row of fromFile) expect(fromDb.has(row)).toBe(true);
    // Only the BACKUP_CREATED audit entry was written after the snapshot was taken.
    expect(fromDb.size - fromFile.length).toBe(table === 'AuditLog' ? 1 : 0);
  }
});

it('leaves out audit logs and staff sessions unless asked', async () => {
  const res = await gql(kiln.url, CREATE, { i: {} }, token);
  const job = await finished(res.data!.createBackup.id);
  expect(Object.keys(job.backup.recordCounts)).not.toContain('AuditLog');
  expect(Object.keys(job.backup.recordCounts)).not.toContain('StaffSession');
  expect(Object.keys(job.backup.recordCounts)).toContain('UserLoginHistory');
});

it('refuses a second backup while one runs with CONFLICT naming the running job', async () => {
  const first = await gql(kiln.url, CREATE, {}, token);
  const second = await gql(kiln.url, CREATE, {}, token);
  expect(errorCode(second)).toBe('CONFLICT');
  expect(second.errors![0].extensions!.runningJobId).toBe(first.data!.createBackup.id);
  const del = await gql(kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: first.data!.createBackup.backup.id }, token);
  expect(['CONFLICT', undefined]).toContain(errorCode(del));
  await finished(first.data!.createBackup.id);
});

it('answers unknown ids and finished jobs with typed errors', async () => {
  expect((await gql(kiln.url, '{ backup(id: "nope") { id } }', {}, token)).data).toEqual({ backup: null });
  expect(errorCode(await gql(kiln.url, 'mutation { deleteBackup(id: "nope") }', {}, token))).toBe('NOT_FOUND');
  expect(errorCode(await gql(kiln.url, 'mutation { cancelJob(id: "nope") { id } }', {}, token))).toBe('NOT_FOUND');
  const done = (await gql(kiln.url, '{ jobs(status: COMPLETED, limit: 1) { id } }', {}, token)).data!.jobs[0];
  expect(errorCode(await gql(kiln.url, 'mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: done.id }, token))).toBe('CONFLICT');
  expect(errorCode(await gql(kiln.url, CREATE, { i: { location: 'CLOUD' } }, token))).toBe('STORAGE_UNAVAILABLE');
});

it('lists, pages and deletes backups, removing the file', async () => {
  const page = (await gql(kiln.url, '{ backups(limit: 2) { total items { id filename status } } }', {}, token)).data!.backups;
  expect(page.items).toHaveLength(2);
  expect(page.total).toBeGreaterThanOrEqual(3);
  const victim = page.items[0];
  const dir = kiln.backupDir;
  expect(existsSync(path.join(dir, victim.filename))).toBe(true);
  const res = await gql(kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: victim.id }, token);
  expect(res.data).toEqual({ deleteBackup: true });
  expect(existsSync(path.join(dir, victim.filename))).toBe(false);
  const after = (await gql(kiln.url, '{ backups { total } }', {}, token)).data!.backups;
  expect(after.total).toBe(page.total - 1);
  expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
});

it('streams job progress over graphql-ws: current state first, a final event, then the end', async () => {
  const client = createClient({ url: `${kiln.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
  try {
    const started = await gql(kiln.url, CREATE, {}, token);
    const jobId = started.data!.createBackup.id;
    const events: any[] = await new Promise((resolve, reject) => {
      const seen: any[] = [];
      client.subscribe(
        { query: 'subscription($id: ID) { jobProgress(jobId: $id) { id status phase percent rowsDone } }', variables: { id: jobId } },
        { next: (e) => seen.push(e), error: reject, complete: () => resolve(seen) },
      );
    });
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0].errors).toBeUndefined();
    const statuses = events.map((e) => e.data.jobProgress.status);
    expect(statuses.at(-1)).toBe('COMPLETED');
    const percents = events.map((e) => e.data.jobProgress.percent);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(percents.at(-1)).toBe(100);
  } finally {
    await client.dispose();
  }
});

