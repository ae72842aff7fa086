/**
 * `npm run admin`: an operator unlocks an account or sets a new admin password from the
 * server's shell, against DATABASE_URL or the embedded PostgreSQL of a running gateway.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { Client } from 'pg';
import { newId } from '../src/db/ids';
import { startKilnProcess } from './support/kiln-process';
import { freshDatabase } from './support/test-database';
import { errorCode, gql, loginToken, startTestKiln, TEST_JWT_SECRET, TEST_BACKUP_SIGNING_KEY, type TestKiln } from './support/test-kiln';

const CLI = path.resolve(__dirname, '../dist/src/auth/admin.cli.js');
const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }';

/** Runs the built CLI; its exit code and output. */
function admin(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
  let [out, err] = ['', ''];
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

describe('against DATABASE_URL', () => {
  let kiln: TestKiln;
  let db: Client;
  let env: Record<string, string>;

  beforeAll(async () => {
    kiln = await startTestKiln({ LOGIN_MAX_FAILURES: '2' }, await freshDatabase());
    db = new Client({ connectionString: kiln.databaseUrl });
    await db.connect();
    env = { DATABASE_URL: kiln.databaseUrl, JWT_SECRET: TEST_JWT_SECRET, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY, BCRYPT_COST: '10', LOG_LEVEL: 'silent' };
    // An admin per test that changes one (ops: locked out and unlocked; forgetful: a new password),
    // so no test meets another's limits or password, whatever the order.
    for (const [email, role] of [['ops@kiln.test', 'ADMIN'], ['forgetful@kiln.test', 'ADMIN'], ['officer@kiln.test', 'CREDIT_OFFICER']]) {
      await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, $2, $3, $4, now())`, [
        newId(),
        email,
        await bcrypt.hash('the-old-password', 10),
        role,
      ]);
    }
  });
  afterAll(async () => {
    await db?.end();
    await kiln?.close();
  });

  /** The audit rows of `action` about `email`'s account. */
  const audit = async (action: string, email: string) =>
    (await db.query(`SELECT "entityId", metadata FROM "AuditLog" WHERE action = $1 AND metadata->>'email' = $2`, [action, email])).rows;

  it('unlock lifts the limit a flood of wrong passwords left, and is audited', async () => {
    for (let i = 0; i < 3; i++) await gql(kiln.url, LOGIN, { e: 'ops@kiln.test', p: `wrong-${i}` });
    expect(errorCode(await gql(kiln.url, LOGIN, { e: 'ops@kiln.test', p: 'the-old-password' }))).toBe('TOO_MANY_REQUESTS');

    const res = await admin(['unlock', 'OPS@kiln.test'], env);
    expect(res).toMatchObject({ code: 0, out: 'Login limits lifted for OPS@kiln.test.\n' });
    expect((await gql(kiln.url, LOGIN, { e: 'ops@kiln.test', p: 'the-old-password' })).errors).toBeUndefined();
    expect(await audit('ACCOUNT_UNLOCKED', 'ops@kiln.test')).toEqual([
      { entityId: expect.any(String), metadata: expect.objectContaining({ by: 'operator shell (npm run admin)', email: 'ops@kiln.test', lifted: true }) },
    ]);
    expect((await admin(['unlock', 'ops@kiln.test'], env)).out).toBe('No login limit was in force for ops@kiln.test.\n');
  });

  it('reset-password sets a new password read from stdin and logs the old sessions out', async () => {
    const oldToken = await loginToken(kiln.url, 'forgetful@kiln.test', 'the-old-password');
    const res = await admin(['reset-password', 'forgetful@kiln.test', '--password-stdin'], env, 'a-brand-new-password\n');
    expect(res).toMatchObject({ code: 0, out: expect.stringContaining('New password set for forgetful@kiln.test') });
    expect(res.out).not.toContain('a-brand-new-password');
    expect(errorCode(await gql(kiln.url, '{ me { id } }', {}, oldToken))).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(kiln.url, LOGIN, { e: 'forgetful@kiln.test', p: 'the-old-password' }))).toBe('UNAUTHENTICATED');
    await loginToken(kiln.url, 'forgetful@kiln.test', 'a-brand-new-password');
    expect(await audit('PASSWORD_RESET', 'forgetful@kiln.test')).toHaveLength(1);
  });

  it('refuses a non-admin, an unknown email, a short password and bad usage, changing nothing', async () => {
    const before = (await db.query(`SELECT "passwordHash" FROM "User" ORDER BY id`)).rows;
    expect(await admin(['reset-password', 'officer@kiln.test'], env)).toMatchObject({ code: 1, err: expect.stringContaining('not an administrator') });
    expect(await admin(['reset-password', 'nobody@kiln.test'], env)).toMatchObject({ code: 1 });
    expect(await admin(['reset-password', 'ops@kiln.test', '--password-stdin'], env, 'short\n')).toMatchObject({ code: 1, err: expect.stringContaining('at least 12') });
    expect(await admin(['delete-everything', 'ops@kiln.test'], env)).toMatchObject({ code: 2, err: expect.stringContaining('usage') });
    expect((await db.query(`SELECT "passwordHash" FROM "User" ORDER BY id`)).rows).toEqual(before);
  });
});

it("reaches the running gateway's embedded PostgreSQL, and starts it when no gateway runs", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-admin-cli-'));
  const env = { DATA_DIR: dataDir, BACKUP_DIR: path.join(dataDir, 'backups'), ADMIN_EMAIL: 'first@kiln.test', ADMIN_PASSWORD: 'first-admin-password', BCRYPT_COST: '10', LOG_LEVEL: 'silent' };
  let gateway = await startKilnProcess({ ...env, LOG_LEVEL: 'info' });
  try {
    const set = await admin(['reset-password', 'first@kiln.test', '--password-stdin'], env, 'second-admin-password\n');
    expect(set).toMatchObject({ code: 0 });
    await loginToken(gateway.url, 'first@kiln.test', 'second-admin-password');
  } finally {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }
  // No gateway now: the command runs the embedded server for itself, and leaves it stopped.
  expect(await admin(['reset-password', 'first@kiln.test', '--password-stdin'], env, 'third-admin-password\n')).toMatchObject({ code: 0 });
  gateway = await startKilnProcess({ ...env, LOG_LEVEL: 'info' });
  try {
    await loginToken(gateway.url, 'first@kiln.test', 'third-admin-password');
  } finally {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }
  // A new cluster (initdb), two gateway starts and a CLI that starts the server itself: past 60 s
  // on a 2-core machine under stress-ng (seen twice).
}, 180_000);
