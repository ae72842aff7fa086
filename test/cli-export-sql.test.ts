/**
 * `kiln file export-sql`: the script psql loads (ON_ERROR_STOP) into the app's own empty schema
 * (Prisma's DDL) gives every table exactly what a Kiln restore of the same file gives, on the
 * embedded server and on this machine's PostgreSQL 15 when it answers.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { LENDING_TABLES } from '../src/domain';
import { loadSqlFile, REFERENCE_DDL } from './support/public-schema';
import { lendingReferences } from '../src/domain/lending-references';
import { writeAppBackupFile } from './support/app-backup-file';
import { craftBackup, fingerprintAt, rawBackup } from './support/restore-helpers';
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
  // "User" refers to itself: its supervisors are set once every user is in.
  expect(text).toMatch(/^BEGIN;\nINSERT INTO "User" SELECT \* FROM jsonb_populate_recordset\(NULL::"User", \(SELECT jsonb_agg\(e - 'supervisorId'\) FROM jsonb_array_elements\('\[/m);
  expect(text).toMatch(/^UPDATE "User" AS t SET "supervisorId" = s."supervisorId" FROM json_populate_recordset\(NULL::"User", '\[/m);
  expect(text).toMatch(/^BEGIN;\nINSERT INTO "Loan" SELECT \* FROM json_populate_recordset\(NULL::"Loan", '\[/m);

  for (const [label, server] of servers()) {
    if (!(await answers(server))) {
      console.log(`export-sql on ${label}: skipped, it does not answer`);
      continue;
    }
    const { sql, kilnRestore } = await loadBothWays(server, backupFile, script);
    expect(Object.values(sql).some((d) => !d.startsWith('0:'))).toBe(true);
    expect([label, sql]).toEqual([label, kilnRestore]);
  }
});

(existsSync(PSQL) ? it : it.skip)('loads backslashes and quotes as they were into a server whose standard_conforming_strings is off', async () => {
  // JSON doubles a backslash; read with the setting off, a literal would halve it again.
  const tricky = String.raw`C:\loans\new "annex" 'B' \u00e9 \\ end`;
  const { rows } = await s.db.query<{ id: string; address: string | null }>(
    `UPDATE "Union" u SET address = $1 FROM (SELECT id, address FROM "Union" ORDER BY id LIMIT 1) old WHERE u.id = old.id RETURNING u.id, old.address`,
    [tricky],
  );
  let backupId: string | undefined;
  try {
    const { backup } = await finishedJob(s, (await startBackup(s)).jobId);
    backupId = backup.id;
    const file = path.join(s.kiln.backupDir, backup.filename);
    const out = path.join(path.dirname(script), 'backslashes.sql');
    const exported = await kiln(['file', 'export-sql', file, '-o', out]);
    expect([exported.code, exported.stderr]).toEqual([0, '']);
    const url = await appSchemaDatabase(embedded(), `${workerDatabaseName()}_scs_off_${process.env.KILN_TEST_RUN_ID}`);
    const loaded = spawnSync(PSQL, ['-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', url, '-f', out], {
      encoding: 'utf8',
      env: { ...process.env, PGOPTIONS: '-c standard_conforming_strings=off' },
    });
    // No "nonstandard use of \\" warning either: the script turned the setting on first.
    expect([loaded.status, loaded.stderr]).toEqual([0, '']);
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      expect((await db.query(`SELECT address FROM "Union" WHERE id = $1`, [rows[0].id])).rows).toEqual([{ address: tricky }]);
    } finally {
      await db.end();
    }
  } finally {
    // The other tests read the newest backup and the seeded data as beforeAll left them.
    if (backupId) await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: backupId }, s.token);
    await s.db.query(`UPDATE "Union" SET address = $1 WHERE id = $2`, [rows[0].address, rows[0].id]);
  }
});

/**
 * `script` loaded with psql into one fresh database holding the app's empty schema, `file` restored
 * with `kiln file restore` into another: both databases' data tables, to compare.
 */
async function loadBothWays(server: string, file: string, script: string, restoreArgs: string[] = []) {
  const tag = `${workerDatabaseName()}_${path.basename(script, '.sql').replace(/\W/g, '_')}_${process.env.KILN_TEST_RUN_ID}`;
  const viaSql = await appSchemaDatabase(server, `${tag}_sql`);
  execFileSync(PSQL, ['-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', viaSql, '-f', script], { stdio: 'pipe' });
  const viaRestore = await appSchemaDatabase(server, `${tag}_ref`);
  const restored = await kiln(['file', 'restore', file, '--database-url', viaRestore, '--yes', '--safety-dir', mkdtempSync(path.join(tmpdir(), 'kiln-safety-')), ...restoreArgs]);
  expect([restored.code, restored.stderr]).toEqual([0, '']);
  return { sql: await fingerprintAt(viaSql, DATA), kilnRestore: await fingerprintAt(viaRestore, DATA) };
}

const embedded = () => servers()[0][1];

it('knows the app’s foreign keys exactly as Prisma’s DDL declares them', async () => {
  const url = await appSchemaDatabase(embedded(), `${workerDatabaseName()}_fks_${process.env.KILN_TEST_RUN_ID}`);
  const db = new Client({ connectionString: url });
  await db.connect();
  const { rows } = await db
    .query(
      `SELECT t.relname AS "table", a.attname AS "column", p.relname AS "references"
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`,
    )
    .finally(() => db.end());
  const key = (r: { table: string; column: string; references: string }) => `${r.table}.${r.column} -> ${r.references}`;
  expect(lendingReferences().map(key).sort()).toEqual(rows.map(key).sort());
});

(existsSync(PSQL) ? it : it.skip)('loads a file whose users come before their supervisors, one row per statement', async () => {
  const raw = await rawBackup(backupFile);
  const users = raw.data.User.map((json) => JSON.parse(json) as { id: string; supervisorId: string | null });
  const supervisors = new Set(users.map((u) => u.supervisorId).filter(Boolean));
  expect(supervisors.size).toBeGreaterThan(0);
  // Every supervisor after everybody else: each of their officers points at a row still to come.
  const crafted = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-sql-order-')), 'supervisors-last.json');
  writeFileSync(
    crafted,
    await craftBackup(raw, (data) => {
      data.User = [...data.User.filter((j: string) => !supervisors.has(JSON.parse(j).id)), ...data.User.filter((j: string) => supervisors.has(JSON.parse(j).id))];
    }),
  );
  const out = path.join(path.dirname(crafted), 'supervisors-last.sql');
  const exported = await kiln(['file', 'export-sql', crafted, '-o', out, '--rows-per-statement', '1']);
  expect([exported.code, exported.stderr]).toEqual([0, '']);
  const { sql, kilnRestore } = await loadBothWays(embedded(), crafted, out);
  expect(sql).toEqual(kilnRestore);
  expect(sql.User).toEqual((await fingerprintAt(s.kiln.databaseUrl, ['User'])).User);
});

(existsSync(PSQL) ? it : it.skip)('exports the lending app’s own backup files (format 1.0, in the app’s table order)', async () => {
  const appFile = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-sql-app-')), 'backup_2026-12-01T10-00-00-000Z.json');
  await writeAppBackupFile(s.kiln.databaseUrl, appFile);
  const out = path.join(path.dirname(appFile), 'app.sql');
  const exported = await kiln(['file', 'export-sql', appFile, '-o', out]);
  expect([exported.code, exported.stderr]).toEqual([0, '']);
  const { sql, kilnRestore } = await loadBothWays(embedded(), appFile, out, ['--allow-unsigned']);
  expect(Object.values(sql).some((d) => !d.startsWith('0:'))).toBe(true);
  expect(sql).toEqual(kilnRestore);
});

it('refuses a file with a table before one it refers to, and leaves no script behind', async () => {
  const crafted = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-sql-order-')), 'loans-first.json');
  writeFileSync(crafted, await craftBackup(await rawBackup(backupFile), (data) => moveFirst(data, 'Loan')));
  const out = path.join(path.dirname(crafted), 'loans-first.sql');
  const { code, stderr } = await kiln(['file', 'export-sql', crafted, '-o', out]);
  expect(code).toBe(1);
  expect(stderr).toMatch(/table Loan comes before [\w, ]*\bUser\b[\w, ]*, which it refers to: this file cannot be exported in dependency order/);
  expect(existsSync(out)).toBe(false);
});

it.each([['0'], ['10001'], ['many']])('refuses --rows-per-statement %s as a usage error', async (value) => {
  const { code, stderr } = await kiln(['file', 'export-sql', backupFile, '-o', path.join(tmpdir(), 'never.sql'), '--rows-per-statement', value]);
  expect(code).toBe(2);
  expect(stderr).toMatch(/--rows-per-statement must be a whole number from 1 to 10000/);
});

function moveFirst(data: Record<string, unknown[]>, table: string): void {
  const rows = data[table];
  const rest = Object.entries(data).filter(([t]) => t !== table);
  for (const key of Object.keys(data)) delete data[key];
  Object.assign(data, { [table]: rows }, Object.fromEntries(rest));
}

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
