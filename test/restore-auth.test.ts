/**
 * While a restore replaces the lending tables it holds them locked (TRUNCATE, until it commits),
 * User and StaffSession included. Sessions from before it still work meanwhile, from Kiln's own
 * copy: an admin can follow the restore and cancel it. A login is told to wait.
 */
import { Client } from 'pg';
import { fingerprint, RESTORE, statementWaitingOnLock } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, TEST_ADMIN } from './support/test-kiln';

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(10);
});
afterAll(async () => s?.close());

it('answers admins while a restore holds User and StaffSession locked, lets them cancel it, and tells a login to wait', async () => {
  const { jobId: backupJob, backupId } = await startBackup(s);
  await finishedJob(s, backupJob);
  expect((await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token)).errors).toBeUndefined();
  const before = await fingerprint(s.db);
  const reader = new Client({ connectionString: s.kiln.databaseUrl });
  await reader.connect();
  let jobId: string;
  try {
    // A reader of CompanySetting (no foreign keys): the restore's TRUNCATE waits for it, holding
    // the tables before it in its list (User first) and StaffSession's keys dropped.
    await reader.query('BEGIN');
    await reader.query('LOCK TABLE "CompanySetting" IN ACCESS SHARE MODE');
    const res = await gql(s.kiln.url, RESTORE, { id: backupId }, s.token);
    expect(res.errors).toBeUndefined();
    jobId = res.data!.restoreBackup.id;
    const waiting = await statementWaitingOnLock(s.db);
    expect(waiting.query).toMatch(/^TRUNCATE "User"/);
    const locked = await s.db.query(
      `SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = $1 AND l.granted AND l.mode = 'AccessExclusiveLock' AND c.relname IN ('User', 'StaffSession') ORDER BY 1`,
      [waiting.pid],
    );
    expect(locked.rows.map((r) => r.relname)).toEqual(['StaffSession', 'User']);

    // The admin follows the job (their session checked from Kiln's copy) ...
    const job = await gql(s.kiln.url, 'query($id: ID!) { job(id: $id) { status phase } }', { id: jobId }, s.token);
    expect(job.errors).toBeUndefined();
    expect(job.data!.job.status).toBe('RUNNING');
    // ... a made-up session is still refused, and a login is told to come back.
    const forged = await gql(s.kiln.url, 'query($id: ID!) { job(id: $id) { status } }', { id: jobId }, `${s.token.slice(0, -4)}AAAA`);
    expect(forged.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const login = await gql(s.kiln.url, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: TEST_ADMIN.email, p: TEST_ADMIN.password });
    expect(login.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/restore is replacing the login accounts/) });
    // ... and cancels it.
    expect((await gql(s.kiln.url, 'mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: jobId }, s.token)).errors).toBeUndefined();
  } finally {
    await reader.query('COMMIT').catch(() => undefined);
    await reader.end();
  }
  await s.kiln.services.jobs.settled(jobId);
  expect(await s.kiln.services.jobs.get(jobId)).toMatchObject({ status: 'CANCELLED' });
  expect(await fingerprint(s.db)).toEqual(before);
  // Kiln's copy of the sessions went with the restore; logins work again.
  expect((await s.db.query('SELECT count(*)::int AS n FROM kiln.kiln_restore_sessions')).rows[0].n).toBe(0);
  expect(await loginToken(s.kiln.url)).toEqual(expect.any(String));
});
