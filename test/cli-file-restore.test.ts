/**
 * `kiln file restore`: the disaster-recovery path, the built CLI as a child process with no
 * gateway, into a fresh database, a foreign one, and one a gateway is using; killed mid-way.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { LENDING_TABLES } from '../src/domain';
import { fingerprint, fingerprintAt } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { freshDatabase, workerDatabaseName } from './support/test-database';
import { TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';
import { until } from './support/until';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli', 'kiln.js');
// The lending data; not the sign-in and audit tables a restore itself writes to.
const DATA = LENDING_TABLES.filter((t) => !['AuditLog', 'StaffSession'].includes(t));

let s: SeededKiln;
let backupFile: string;
let source: Record<string, string>;
beforeAll(async () => {
  s = await startSeededKiln(20);
  const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  backupFile = path.join(s.kiln.backupDir, backup.filename);
  source = await fingerprint(s.db, DATA);
});
afterAll(async () => s?.close());

function kiln(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const safetyDir = () => mkdtempSync(path.join(tmpdir(), 'kiln-safety-'));

async function tablesOf(url: string): Promise<string[]> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)).rows.map((r) => r.t);
  } finally {
    await db.end();
  }
}

it('runs the runbook: file verify, then file restore into an empty database, which then holds exactly the backed-up data', async () => {
  const keys = { BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY };
  expect((await kiln(['file', 'verify', backupFile], keys)).code).toBe(0);
  const target = await freshDatabase(`${workerDatabaseName()}_dr`);
  const { code, stdout, stderr } = await kiln(['file', 'restore', backupFile, '--database-url', target, '--yes', '--safety-dir', safetyDir()], keys);
  expect([code, stderr]).toEqual([0, '']);
  expect(stdout).toMatch(/RESTORE \w+ COMPLETED, 100%/);
  expect(stdout).toContain('everybody signs in again');
  expect(await fingerprintAt(target, DATA)).toEqual(source);
  // Maintenance mode is as it was: off.
  const db = new Client({ connectionString: target });
  await db.connect();
  const { rows } = await db.query(`SELECT enabled FROM kiln.kiln_maintenance`).finally(() => db.end());
  expect(rows.every((r) => r.enabled === false)).toBe(true);
});

it('refuses a file it cannot vouch for without the signing key, and restores it with --allow-unsigned', async () => {
  const target = await freshDatabase(`${workerDatabaseName()}_dr_unsigned`);
  const refused = await kiln(['file', 'restore', backupFile, '--database-url', target, '--yes', '--safety-dir', safetyDir()]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^kiln: RESTORE job \w+ FAILED: BAD_USER_INPUT: .*another BACKUP_SIGNING_KEY/);
  const allowed = await kiln(['file', 'restore', backupFile, '--database-url', target, '--yes', '--allow-unsigned', '--safety-dir', safetyDir()]);
  expect(allowed.code).toBe(0);
  expect(await fingerprintAt(target, DATA)).toEqual(source);
});

it.each([
  ['a truncated file', (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated|ends/],
  ['a foreign file', () => Buffer.from('SELECT 1;\n'), /line 1: /],
])('refuses %s before touching the database (an empty one stays empty)', async (name, make, message) => {
  const target = await freshDatabase(`${workerDatabaseName()}_dr_bad`);
  const bad = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-bad-')), `${name.replace(/\W/g, '-')}.json`);
  writeFileSync(bad, make(readFileSync(backupFile)));
  const { code, stderr } = await kiln(['file', 'restore', bad, '--database-url', target, '--yes', '--safety-dir', safetyDir()], { BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY });
  expect(code).toBe(1);
  expect(stderr).toMatch(message);
  expect(stderr).toMatch(/nothing was changed$/m);
  expect(await tablesOf(target)).toEqual([]);
});

it('refuses a database that holds something else, and changes nothing in it', async () => {
  const target = await freshDatabase(`${workerDatabaseName()}_foreign`);
  const db = new Client({ connectionString: target });
  await db.connect();
  await db.query('CREATE TABLE invoices (id int PRIMARY KEY)').finally(() => db.end());
  const { code, stderr } = await kiln(['file', 'restore', backupFile, '--database-url', target, '--yes', '--safety-dir', safetyDir()], { BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY });
  expect(code).toBe(1);
  expect(stderr).toMatch(/holds tables that are not the lending app's \(invoices\): nothing was changed/);
  expect(await tablesOf(target)).toEqual(['public.invoices']);
});

it('refuses a database whose gateway is running a job with maintenance off', async () => {
  await whileTableLocked(s, async () => {
    const { jobId } = await startBackup(s);
    await until('the job to hold its lease', async () => (await s.db.query(`SELECT 1 FROM kiln.kiln_leases WHERE "jobId" = $1`, [jobId])).rowCount, (n) => n === 1, 10_000, 50);
    const { code, stderr } = await kiln(['file', 'restore', backupFile, '--database-url', s.kiln.databaseUrl, '--yes', '--safety-dir', safetyDir()], { BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY });
    expect(code).toBe(1);
    expect(stderr).toContain(`a gateway is running job ${jobId}`);
  });
});

it('leaves the database as it was when killed mid-way', async () => {
  const target = await freshDatabase(`${workerDatabaseName()}_dr_killed`);
  expect((await kiln(['file', 'restore', backupFile, '--database-url', target, '--yes', '--safety-dir', safetyDir()], { BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY })).code).toBe(0);
  const db = new Client({ connectionString: target });
  await db.connect();
  try {
    await db.query(`DELETE FROM "UserNote"`);
    const before = await fingerprint(db, DATA);
    // Reads pass this lock, writes wait on it: the CLI is killed inside the load's transaction.
    await db.query('BEGIN');
    await db.query('LOCK TABLE "UserNote" IN EXCLUSIVE MODE');
    const child = spawn(process.execPath, [CLI, 'file', 'restore', backupFile, '--database-url', target, '--yes', '--safety-dir', safetyDir()], {
      env: { PATH: process.env.PATH, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY },
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    const exited = new Promise((resolve) => child.on('close', resolve));
    // Asked on another connection: inside the locking transaction, pg_stat_activity is a snapshot.
    const waiting = async () => {
      const monitor = new Client({ connectionString: target });
      await monitor.connect();
      try {
        return (await monitor.query(`SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows.map((r) => r.query);
      } finally {
        await monitor.end();
      }
    };
    await until('the load to wait on the lock', async () => ({ stdout, waiting: await waiting() }), (t) => t.waiting.length > 0 && /phase restore/.test(t.stdout), 30_000, 50);
    child.kill('SIGKILL');
    await exited;
    await db.query('COMMIT');
    expect(await fingerprint(db, DATA)).toEqual(before);
  } finally {
    await db.end();
  }
});
