import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKilnProcess } from './support/kiln-process';
import { CREATE_BACKUP, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET } from './support/test-kiln';
import { eventually, until } from './support/until';

// A gateway killed with SIGKILL in the middle of a backup: the next start marks
// the job FAILED ("interrupted"), the record FAILED, and removes the partial file.
let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(3000, { JOB_LEASE_TTL_SECONDS: '1' });
});
afterAll(async () => s?.close());

it('cleans up after a gateway killed mid-backup, and frees the lease', async () => {
  const backupDir = mkdtempSync(path.join(tmpdir(), 'kiln-crash-'));
  const env = { DATABASE_URL: s.kiln.databaseUrl, JWT_SECRET: TEST_JWT_SECRET, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY, BACKUP_DIR: backupDir, JOB_LEASE_TTL_SECONDS: '1' };
  const victim = await startKilnProcess(env);
  const res = await gql(victim.url, CREATE_BACKUP, { i: { includeAuditLogs: true } }, s.token);
  const { id: jobId, backup } = res.data!.createBackup;

  // Polled every 2 ms: the partial file (the backup's file name, then the job's tag) lives only while the export runs.
  const [partial] = await until('the backup\'s partial file', () => readdirSync(backupDir).filter((f) => f.endsWith('.partial')), (files) => files.length > 0, 20_000, 2);
  victim.child.kill('SIGKILL');
  await victim.exited;
  expect(partial).toContain(backup.id);
  expect(existsSync(path.join(backupDir, partial))).toBe(true);
  // Another gateway takes the job for interrupted once its heartbeat is older than the lease TTL (1 s here).
  await eventually('the dead gateway\'s heartbeat to go stale', async () => {
    const { rows } = await s.db.query(`SELECT "heartbeatAt" < CURRENT_TIMESTAMP - interval '1 second' AS stale FROM kiln_jobs WHERE id = $1`, [jobId]);
    return rows[0].stale === true;
  }, 30_000, 50);

  const heir = await startKilnProcess(env);
  try {
    const job = (await gql(heir.url, 'query($id: ID!) { job(id: $id) { status error backup { status error } } }', { id: jobId }, s.token)).data!.job;
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatch(/interrupted/);
    expect(job.backup).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/interrupted/) });
    // The partial file is gone, and no file of that backup was finished instead.
    expect(existsSync(path.join(backupDir, partial))).toBe(false);
    expect(readdirSync(backupDir)).toEqual([]);

    const next = await gql(heir.url, CREATE_BACKUP, {}, s.token);
    expect(next.errors).toBeUndefined();
    const status = await until(
      'the next backup to end',
      async () => (await gql(heir.url, 'query($id: ID!) { job(id: $id) { status } }', { id: next.data!.createBackup.id }, s.token)).data!.job.status as string,
      (st) => st !== 'RUNNING' && st !== 'QUEUED',
      60_000,
      50,
    );
    expect(status).toBe('COMPLETED');
  } finally {
    heir.child.kill('SIGTERM');
    await heir.exited;
  }
});
