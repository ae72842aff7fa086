/**
 * The change journal on a second server version: the machine's PostgreSQL 15 binaries, in a
 * cluster this test starts with wal_level = logical (the machine's own server runs with replica).
 * A restore to an instant between an insert and an update gives exactly that instant's row.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { instantAfterCommits, restoreToInstant } from './support/point-in-time';
import { fingerprint } from './support/restore-helpers';
import { gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

const BIN = '/usr/lib/postgresql/15/bin';
const SET = 'mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { continuous } }';
// PostgreSQL refuses to run as root: as root, the cluster is the `postgres` user's (as the machine's is).
const runnable = existsSync(path.join(BIN, 'pg_ctl')) && process.getuid?.() === 0;

let dir: string;
let cluster: string;
let kiln: TestKiln | undefined;
let db: Client | undefined;

function asPostgres(command: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args], { stdio: 'pipe' });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  if (!runnable) return;
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-pg15-'));
  chmodSync(dir, 0o755);
  cluster = path.join(dir, 'pg');
  mkdirSync(cluster);
  chownSync(cluster, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  asPostgres('initdb', ['-D', cluster, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${cluster} -c wal_level=logical -c max_slot_wal_keep_size=256MB -c fsync=off`;
  asPostgres('pg_ctl', ['-D', cluster, '-o', options, '-w', '-l', path.join(cluster, 'log'), 'start']);
  const admin = new Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE kiln_pg15');
  await admin.end();
  const url = `postgres://postgres@127.0.0.1:${port}/kiln_pg15`;
  kiln = await startTestKiln({ JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '600' }, url);
  db = new Client({ connectionString: url });
  await db.connect();
  await seedDemoData(db, { members: 3, seed: 5 });
});

afterAll(async () => {
  if (!runnable) return;
  if (kiln) await gql(kiln.url, SET, { i: { continuous: false } }, await loginToken(kiln.url)).catch(() => undefined);
  await db?.end();
  await kiln?.close();
  if (existsSync(path.join(cluster, 'postmaster.pid'))) asPostgres('pg_ctl', ['-D', cluster, '-m', 'fast', '-w', 'stop']);
  rmSync(dir, { recursive: true, force: true });
});

(runnable ? it : it.skip)('restores an instant on PostgreSQL 15 started with wal_level=logical', async () => {
  const one = kiln!;
  const sql = db!;
  expect((await sql.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0].v).toMatch(/^15/);
  const on = await gql(one.url, SET, { i: { continuous: true } }, await loginToken(one.url));
  expect(on.errors).toBeUndefined();
  await until('the base backup', async () => (await sql.query(`SELECT 1 FROM kiln.kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rowCount, (n) => n === 0, 60_000, 100);

  await sql.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pg15-1', 'inserted', 1, 2, now())`);
  // The update commits after this instant: not replayed by a restore to it.
  const afterInsert = await instantAfterCommits(sql);
  const expected = await fingerprint(sql, ['LoanType']);
  await sql.query(`UPDATE "LoanType" SET name = 'updated' WHERE id = 'pg15-1'`);
  const afterUpdate = await instantAfterCommits(sql);
  await until('the journal to hold it', () => one.services.journal.store.openChainNow(), (c) => (c?.coveredUntil ?? new Date(0)) >= afterUpdate, 30_000, 100);

  expect(await restoreToInstant(one, afterInsert)).toBe('COMPLETED');
  expect(await fingerprint(sql, ['LoanType'])).toEqual(expected);
  expect((await sql.query(`SELECT name FROM "LoanType" WHERE id = 'pg15-1'`)).rows).toEqual([{ name: 'inserted' }]);
});
