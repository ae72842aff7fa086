/**
 * Every value a lending column can hold (the app's Prisma types: TEXT, DECIMAL, INTEGER,
 * TIMESTAMP(3), JSONB, BOOLEAN, enums), at its edges, in every lending table at once: a Kiln
 * backup restores exactly, a restore drill passes, and `kiln file export-sql` loads the same.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { LENDING_TABLES } from '../src/domain';
import { lendingReferences } from '../src/domain/lending-references';
import { loadSqlFile, REFERENCE_DDL } from './support/public-schema';
import { appBackupText, buildAppBackupDocument } from './support/app-backup-file';
import { fingerprint, fingerprintAt, RESTORE, uploadRestore } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { workerDatabaseName } from './support/test-database';
import { gql, loginToken, TEST_ADMIN, TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli', 'kiln.js');
const PSQL = '/usr/bin/psql';

// Text COPY, CSV and JSON each escape some of these; none may come back changed.
const TEXTS = [
  '',
  '\\N',
  '\\.',
  'null',
  ' padded ',
  'tab\there\nnew line\r\ncarriage',
  String.raw`C:\loans\new "annex" 'B' \u00e9 \\ end`,
  '\u0001\u0007\u001b\u001f control',
  'Ọmọ́ Àdùnní 👩🏾‍🌾 مرحبا e\u0301 \u2028\u2029 \ufeff 𝔘𝔫𝔦𝔬𝔫',
  '{"looks":"like json"}',
  'x'.repeat(256 * 1024),
];
const JSONS = [
  'null',
  '"a plain string"',
  'true',
  '0',
  '-12.5',
  '1e300',
  '0.30000000000000004',
  '[]',
  '{}',
  '{"ü":"\\u00fc","emoji":"👩🏾‍🌾","nul-free control":"\\u0001","quote":"\\"","nested":[1,[2,[3,{"a":null}]]]}',
  JSON.stringify(Array.from({ length: 60 }).reduce((inner: unknown) => ({ d: inner }), 'deep')),
];
const TIMESTAMPS = ['0001-01-01 00:00:00', '9999-12-31 23:59:59.999', '1969-12-31 23:59:59.999', '2026-03-29 01:30:00.5'];
const INTEGERS = [2147483647, -2147483648, 0];

interface Column {
  name: string;
  type: string;
  udt: string;
  precision: number | null;
  scale: number | null;
  nullable: boolean;
}

let s: SeededKiln;
let columnsSet = 0;
const edgeIds: Record<string, string[]> = {};

/** count:md5 of the edge rows of every lending table; sessions without revokedAt (a restore logs everybody out). */
async function edgeRows(db: Client): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [table, ids] of Object.entries(edgeIds)) {
    const { rows } = await db.query<{ n: number; h: string }>(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg((row_to_json(x)::jsonb - 'revokedAt')::text, ',' ORDER BY id), '')) AS h FROM "${table}" x WHERE id = ANY($1)`,
      [ids],
    );
    out[table] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}

/** The edges of a column's type; `i` picks among them so rows and tables get different ones. */
async function edges(db: Client, c: Column, indexed: boolean): Promise<unknown[]> {
  switch (c.type) {
    case 'text':
      // A btree entry holds at most ~2.7 kB: the app cannot write a longer value into an indexed column either.
      return indexed ? TEXTS.slice(0, -1) : TEXTS;
    case 'jsonb':
      return JSONS;
    case 'integer':
      return INTEGERS;
    case 'boolean':
      return [true, false];
    case 'timestamp without time zone':
      return TIMESTAMPS;
    case 'numeric': {
      const max = `${'9'.repeat(c.precision! - c.scale!)}.${'9'.repeat(c.scale!)}`;
      return [max, `-${max}`, `0.${'0'.repeat(c.scale! - 1)}1`, '0'];
    }
    case 'USER-DEFINED':
      return (await db.query<{ v: string }>(`SELECT unnest(enum_range(NULL::"${c.udt}"))::text AS v`)).rows.map((r) => r.v);
    default:
      throw new Error(`a lending column of a type this test does not know: ${c.name} ${c.type}`);
  }
}

/** Gives the first rows of every lending table edge values in every column but keys, and NULL where allowed. */
async function writeEdgeValues(db: Client): Promise<void> {
  const keys = new Set(lendingReferences().map((r) => `${r.table}.${r.column}`));
  for (const [t, table] of LENDING_TABLES.entries()) {
    const { rows: columns } = await db.query<Column>(
      `SELECT column_name AS name, data_type AS type, udt_name AS udt, numeric_precision AS precision, numeric_scale AS scale, is_nullable = 'YES' AS nullable
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    const indexed = new Set(
      (await db.query<{ name: string }>(`SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass`, [`"${table}"`])).rows.map((r) => r.name),
    );
    // Not the test admin, nor its sessions: the tests go on signed in as it.
    const others = { User: `WHERE email <> $1`, StaffSession: `WHERE "userId" NOT IN (SELECT id FROM "User" WHERE email = $1)` }[table as string];
    const ids = (await db.query<{ id: string }>(`SELECT id FROM "${table}" ${others ?? 'WHERE $1::text IS NOT NULL'} ORDER BY id LIMIT 3`, [TEST_ADMIN.email])).rows.map((r) => r.id);
    edgeIds[table] = ids;
    for (const [r, id] of ids.entries()) {
      const sets: string[] = [];
      const values: unknown[] = [id];
      for (const [i, c] of columns.entries()) {
        if (c.name === 'id' || keys.has(`${table}.${c.name}`)) continue;
        // The third row: NULL wherever the column allows it.
        if (r === 2 && !c.nullable) continue;
        const options = await edges(db, c, indexed.has(c.name));
        values.push(r === 2 ? null : c.type === 'text' && /email|code|name|jwtId|loanNumber/.test(c.name) ? `${options[(t + i + r) % options.length] as string}#${id}` : options[(t + i + r) % options.length]);
        sets.push(`"${c.name}" = $${values.length}${c.type === 'USER-DEFINED' ? `::"${c.udt}"` : ''}`);
        columnsSet++;
      }
      if (sets.length) await db.query(`UPDATE "${table}" SET ${sets.join(', ')} WHERE id = $1`, values);
    }
  }
}

beforeAll(async () => {
  s = await startSeededKiln(16);
  // The demo seed writes no reassignment at this size: three, as the app writes them.
  await s.db.query(
    `INSERT INTO "UnionMemberReassignment" (id, "unionMemberId", "oldUnionId", "newUnionId", "changedByUserId", reason)
     SELECT 'edge-reassignment-' || n, m.id, m."unionId", m."unionId", (SELECT id FROM "User" ORDER BY id LIMIT 1), 'moved' FROM generate_series(1, 3) n, (SELECT * FROM "UnionMember" ORDER BY id LIMIT 1) m`,
  );
  await writeEdgeValues(s.db);
});
afterAll(() => s?.close());

it('a backup of them restores exactly, and its restore drill passes', async () => {
  s.token = await loginToken(s.kiln.url);
  expect(columnsSet).toBeGreaterThan(150);
  expect(Object.entries(edgeIds).filter(([, ids]) => ids.length === 0)).toEqual([]);
  const [source, sourceEdges] = [await fingerprint(s.db), await edgeRows(s.db)];
  const job = await finishedJob(s, (await startBackup(s, { includeAuditLogs: true, includeSessions: true })).jobId);
  expect([job.status, job.error]).toEqual(['COMPLETED', null]);

  const drill = await gql(s.kiln.url, 'mutation($id: ID!) { verifyBackup(id: $id, restoreDrill: true) { id } }', { id: job.backup.id }, s.token);
  const drillJob = await finishedJob(s, drill.data!.verifyBackup.id);
  expect([drillJob.status, drillJob.error]).toEqual(['COMPLETED', null]);

  // The live data move on, then the backup puts them back.
  await s.db.query(`UPDATE "Union" SET name = name || ' (renamed)'`);
  await s.db.query(`UPDATE "LoanType" SET "minAmount" = 1.5`);
  expect(await fingerprint(s.db)).not.toEqual(source);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true, reason: "edge values") { enabled } }', {}, s.token);
  const restore = await gql(s.kiln.url, RESTORE, { id: job.backup.id }, s.token);
  // The restore logs everybody out, this test too: its job is read from the service.
  await s.kiln.services.jobs.settled(restore.data!.restoreBackup.id);
  const restored = (await s.kiln.services.jobs.get(restore.data!.restoreBackup.id))!;
  expect([restored.status, restored.error]).toEqual(['COMPLETED', null]);
  const after = await fingerprint(s.db);
  // A restore writes its own audit entry and logs everybody out: the rest is as it was.
  expect({ ...after, AuditLog: '', StaffSession: '' }).toEqual({ ...source, AuditLog: '', StaffSession: '' });
  expect(await edgeRows(s.db)).toEqual(sourceEdges);
  s.token = await loginToken(s.kiln.url);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, s.token);
});

(existsSync(PSQL) ? it : it.skip)('export-sql writes a script psql loads into the app’s schema with every value as it was', async () => {
  s.token = await loginToken(s.kiln.url);
  const { backup } = await finishedJob(s, (await startBackup(s, { includeAuditLogs: true })).jobId);
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-edge-sql-'));
  const script = path.join(dir, 'edge.sql');
  const exported = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [CLI, 'file', 'export-sql', path.join(s.kiln.backupDir, backup.filename), '-o', script], { env: { PATH: process.env.PATH, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY } }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    ),
  );
  expect(exported).toEqual({ code: 0, stderr: '' });

  const name = `${workerDatabaseName()}_edge_sql_${process.env.KILN_TEST_RUN_ID}`;
  const server = process.env.KILN_TEST_SERVER_URL!.replace(/\/[^/]*$/, '/postgres');
  const admin = new Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  try {
    const url = server.replace(/\/postgres$/, `/${name}`);
    await loadSqlFile(url, REFERENCE_DDL);
    execFileSync(PSQL, ['-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', url, '-f', script], { stdio: 'pipe' });
    // Kiln writes audit entries after the backup's snapshot (the backup's own): those differ.
    const tables = LENDING_TABLES.filter((t) => t !== 'StaffSession' && t !== 'AuditLog');
    expect(await fingerprintAt(url, tables)).toEqual(await fingerprint(s.db, tables));
    const loaded = new Client({ connectionString: url });
    await loaded.connect();
    try {
      const { StaffSession: _notExported, ...live } = await edgeRows(s.db);
      const { StaffSession: _empty, ...viaSql } = await edgeRows(loaded);
      expect(viaSql).toEqual(live);
    } finally {
      await loaded.end();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end());
  }
});

it('the app’s own backup file of them (format 1.0: Prisma’s JSON) restores exactly', async () => {
  s.token = await loginToken(s.kiln.url);
  const doc = await buildAppBackupDocument(s.db, { includeAuditLogs: true });
  const [source, sourceEdges] = [await fingerprint(s.db), await edgeRows(s.db)];
  await s.db.query(`UPDATE "Union" SET name = name || ' (renamed)'`);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true, reason: "edge values, app file") { enabled } }', {}, s.token);
  const upload = await uploadRestore(s.kiln.url, s.token, Buffer.from(appBackupText(doc)), undefined, { allowUnsigned: true });
  expect(upload.body.errors).toBeUndefined();
  const jobId = upload.body.data.restoreBackup.id as string;
  await s.kiln.services.jobs.settled(jobId);
  const restored = (await s.kiln.services.jobs.get(jobId))!;
  expect([restored.status, restored.error]).toEqual(['COMPLETED', null]);
  // The app's files hold no sessions; the restore adds its audit entry.
  expect({ ...(await fingerprint(s.db)), AuditLog: '', StaffSession: '' }).toEqual({ ...source, AuditLog: '', StaffSession: '' });
  expect(await edgeRows(s.db)).toEqual(sourceEdges);
  s.token = await loginToken(s.kiln.url);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, s.token);
});
