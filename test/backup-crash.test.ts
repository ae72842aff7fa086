import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKilnProcess } from './support/kiln-process';
import { CREATE_BACKUP, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET } from './support/test-kiln';

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

  const deadline = Date.now() + 20_000;
  while (!readdirSync(backupDir).some((f) => f.endsWith('.partial'))) {
    if (Date.now() > deadline) throw new Error('no partial file appeared');
    await new Promise((r) => setTimeout(r, 2));
  }
  victim.child.kill('SIGKILL');
  await victim.exited;
  expect(readdirSync(backupDir).some((f) => f.endsWith('.partial'))).toBe(true);
  // While the dead gateway's lease is still fresh, nobody else may start a backup.
  await new Promise((r) => setTimeout(r, 1500));

  const heir = await startKilnProcess(env);
  try {
    const job = (await gql(heir.url, 'query($id: ID!) { job(id: $id) { status error backup { status error } } }', { id: jobId }, s.token)).data!.job;
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatch(/interrupted/);
    expect(job.backup).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/interrupted/) });
    expect(readdirSync(backupDir)).toEqual([]);
    expect(existsSync(path.join(backupDir, `${backup.id}.json`))).toBe(false);

    const next = await gql(heir.url, CREATE_BACKUP, {}, s.token);
    expect(next.errors).toBeUndefined();
    let status = 'RUNNING';
    while (status === 'RUNNING') {
      await new Promise((r) => setTimeout(r, 50));
      status = (await gql(heir.url, 'query($id: ID!) { job(id: $id) { status } }', { id: next.data!.createBackup.id }, s.token)).data!.job.status;
    }
    expect(status).toBe('COMPLETED');
  } finally {
    heir.child.kill('SIGTERM');
    await heir.exited;
  }
});
