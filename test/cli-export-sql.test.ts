/**
 * `kiln file export-sql`: the script psql loads (ON_ERROR_STOP) into the app's own empty schema
 * (Prisma's DDL) gives every table exactly what a Kiln restore of the same file gives, on the
 * embedded server and on this machine's PostgreSQL 15 when it answers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { LENDING_TABLES } from '../src/domain';
import { loadSqlFile, REFERENCE_DDL } from './support/public-schema';
import { fingerprintAt } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { workerDatabaseName } from './support/test-database';
import { gql, TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli', 'kiln.js');
const PSQL = '/usr/bin/psql';
// A restore writes its own audit entries; sessions are left out of the backup.
const DATA = LENDING_TABLES.filter((t) => !['AuditLog', 'StaffSession'].includes(t));
const PG15 = 'postgres://postgres@127.0.0.1:5432/postgres';

let s: SeededKiln;
let backupFile: string;
let script: string;
beforeAll(async () => {
  s = await startSeededKiln(30);
  backupFile = path.join(s.kiln.backupDir, (await finishedJob(s, (await startBackup(s)).jobId)).backup.filename);
  script = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-sql-')), 'dump.sql');
});
const made: Array<{ server: string; name: string }> = [];
afterAll(async () => {
  await s?.close();
  // This machine's PostgreSQL 15 is shared: what this file made there goes.
  for (const { server, name } of made) {
    const admin = new Client({ connectionString: server });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end());
  }
});

function kiln(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A fresh database on `server` holding the app's empty schema, as `prisma db push` makes it. */
async function appSchemaDatabase(server: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
    made.push({ server, name });
  } finally {
    await admin.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  await loadSqlFile(url.toString(), REFERENCE_DDL);
  return url.toString();
}

async function answers(url: string): Promise<boolean> {
  const db = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await db.connect();
    await db.end();
    return true;
  } catch {
    return false;
  }
}

const servers = () => [['the embedded server', process.env.KILN_TEST_SERVER_URL!.replace(/\/[^/]*$/, '/postgres')], ['PostgreSQL 15 on 127.0.0.1:5432', PG15]];

(existsSync(PSQL) ? it : it.skip)('writes a script psql loads into the app’s empty schema with the same result as a Kiln restore, on each server', async () => {
  const exported = await kiln(['file', 'export-sql', backupFile, '-o', script]);
  expect([exported.code, exported.stderr]).toEqual([0, '']);
  const text = readFileSync(script, 'utf8');
  expect(text).toMatch(/^-- Kiln backup .+ as SQL/);
  expect(text).toMatch(/^-- data checksum \(sha256\) [0-9a-f]{64}; file sha256 [0-9a-f]{64}$/m);
  expect(text).toMatch(/^BEGIN;\nINSERT INTO "User" SELECT \* FROM json_populate_recordset\(NULL::"User", '\[/m);

  for (const [label, server] of servers()) {
    if (!(await answers(server))) {
      console.log(`export-sql on ${label}: skipped, it does not answer`);
      continue;
    }
    const viaSql = await appSchemaDatabase(server, `${workerDatabaseName()}_sql_${process.env.KILN_TEST_RUN_ID}`);
    execFileSync(PSQL, ['-v', 'ON_ERROR_STOP=1', '-q', '-d', viaSql, '-f', script], { stdio: 'pipe' });
    const viaRestore = await appSchemaDatabase(server, `${workerDatabaseName()}_sqlref_${process.env.KILN_TEST_RUN_ID}`);
    const restored = await kiln(['file', 'restore', backupFile, '--database-url', viaRestore, '--yes', '--safety-dir', mkdtempSync(path.join(tmpdir(), 'kiln-safety-'))]);
    expect([label, restored.code, restored.stderr]).toEqual([label, 0, '']);
    const [sql, kilnRestore] = [await fingerprintAt(viaSql, DATA), await fingerprintAt(viaRestore, DATA)];
    expect(Object.values(sql).some((d) => !d.startsWith('0:'))).toBe(true);
    expect([label, sql]).toEqual([label, kilnRestore]);
  }
});

it('refuses a damaged file and leaves no script behind', async () => {
  const damaged = path.join(tmpdir(), 'kiln-sql-damaged.json');
  const bytes = readFileSync(backupFile);
  writeFileSync(damaged, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const out = path.join(tmpdir(), 'kiln-sql-damaged.sql');
  const { code, stderr } = await kiln(['file', 'export-sql', damaged, '-o', out]);
  expect(code).toBe(1);
  expect(stderr).toMatch(/^kiln: .*kiln-sql-damaged\.json: /);
  expect(existsSync(out)).toBe(false);
});

describe('GET /backups/:id/download?format=sql (Backup.sqlDownloadUrl)', () => {
  it('streams the same statements as kiln file export-sql, by the signed link or an admin token', async () => {
    const id = (await gql(s.kiln.url, '{ backups(limit: 1) { items { id } } }', {}, s.token)).data!.backups.items[0].id;
    const url = (await gql(s.kiln.url, 'query($id: ID!) { backup(id: $id) { sqlDownloadUrl } }', { id }, s.token)).data!.backup.sqlDownloadUrl as string;
    expect(url).toMatch(/\/download\?format=sql&token=/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/sql; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="?kiln-backup-[^"]+\.sql"?$/);
    expect(res.headers.get('content-length')).toBeNull(); // streamed
    const body = await res.text();
    expect(body).toMatch(new RegExp(`^-- written .+, backup ${id}$`, 'm'));
    if (!existsSync(script)) expect((await kiln(['file', 'export-sql', backupFile, '-o', script])).code).toBe(0);
    const statements = (text: string) => text.slice(text.indexOf('\nBEGIN;'));
    expect(statements(body)).toBe(statements(readFileSync(script, 'utf8')));

    const withToken = await fetch(`${s.kiln.url}/backups/${id}/download?format=sql`, { headers: { authorization: `Bearer ${s.token}` } });
    expect(statements(await withToken.text())).toBe(statements(body));
  });

  it.each([
    ['an unknown format', (id: string) => `/backups/${id}/download?format=xml`, 'token', 400, 'BAD_USER_INPUT'],
    ['no credentials', (id: string) => `/backups/${id}/download?format=sql`, 'none', 401, 'UNAUTHENTICATED'],
    ['a forged link', (id: string) => `/backups/${id}/download?format=sql&token=forged`, 'none', 401, 'UNAUTHENTICATED'],
    ['an unknown backup', () => `/backups/no-such-backup/download?format=sql`, 'token', 404, 'NOT_FOUND'],
  ])('refuses %s with its code', async (_what, route, auth, status, code) => {
    const id = (await gql(s.kiln.url, '{ backups(limit: 1) { items { id } } }', {}, s.token)).data!.backups.items[0].id;
    const res = await fetch(`${s.kiln.url}${route(id)}`, { headers: auth === 'token' ? { authorization: `Bearer ${s.token}` } : {} });
    expect(res.status).toBe(status);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe(code);
  });
});
