/**
 * The README's disaster-recovery runbook, step by step, with the built CLI as a child process:
 * an encrypted backup through the gateway, downloaded, verified offline; then the gateway is
 * stopped for good and the file restored into a fresh database, which holds the source's data.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LENDING_TABLES } from '../src/domain';
import { fingerprint, fingerprintAt } from './support/restore-helpers';
import { startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { freshDatabase, workerDatabaseName } from './support/test-database';
import { loginToken, TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli', 'kiln.js');
// The lending data; not the sign-in and audit tables a restore itself writes to.
const DATA = LENDING_TABLES.filter((t) => !['AuditLog', 'StaffSession'].includes(t));
// The deployment's keys, as the admin's runbook environment holds them.
const KEYS = { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('hex'), BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY };

let s: SeededKiln | undefined;
afterAll(async () => s?.close());

function kiln(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

it('backup → download → file verify → gateway stopped → file restore into a fresh database: the data is the source’s', async () => {
  s = await startSeededKiln(15, { BACKUP_ENCRYPTION_KEY: KEYS.BACKUP_ENCRYPTION_KEY });
  const gateway = { KILN_URL: s.kiln.url, KILN_TOKEN: await loginToken(s.kiln.url) };
  const source = await fingerprint(s.db, DATA);

  // 1. A backup, followed to its end.
  const backup = await kiln(['backup', '--wait', '--json'], gateway);
  expect([backup.code, backup.stderr]).toEqual([0, '']);
  const done = JSON.parse(backup.stdout.trim().split('\n').at(-1)!);
  expect(done).toMatchObject({ kind: 'BACKUP', status: 'COMPLETED' });

  // 2. Downloaded off the host (its sha256 checked by the CLI).
  const offsite = mkdtempSync(path.join(tmpdir(), 'kiln-offsite-'));
  const download = await kiln(['download', done.backup.id, '-o', offsite], gateway);
  expect(download.code).toBe(0);
  expect(download.stdout).toMatch(/sha256 [0-9a-f]{64} \(checked\)/);
  const file = path.join(offsite, done.backup.filename);

  // 3. Checked without a database.
  const verify = await kiln(['file', 'verify', file], KEYS);
  expect([verify.code, verify.stderr]).toEqual([0, '']);

  // 4. The gateway and its host are gone.
  await s.close();
  s = undefined;
  const status = await kiln(['status'], gateway);
  expect(status.code).toBe(3);
  expect(status.stderr).toMatch(/^kiln: cannot reach/);

  // 5. Restored into a new, empty database with nothing but the file and the keys.
  const target = await freshDatabase(`${workerDatabaseName()}_runbook`);
  const restore = await kiln(['file', 'restore', file, '--database-url', target, '--yes', '--safety-dir', mkdtempSync(path.join(tmpdir(), 'kiln-safety-'))], KEYS);
  expect([restore.code, restore.stderr]).toEqual([0, '']);
  expect(await fingerprintAt(target, DATA)).toEqual(source);
});
