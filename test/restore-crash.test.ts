import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKilnProcess } from './support/kiln-process';
import { fingerprint, RESTORE } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, TEST_JWT_SECRET, TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';
import { eventually } from './support/until';

// SIGKILL in the middle of a restore's transaction: every table stays exactly as it was.
let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(3000);
});
afterAll(async () => s?.close());

it('leaves every table as it was before the restore when the gateway is killed mid-way', async () => {
  const backupDir = s.kiln.backupDir;
  const { backupId } = await startBackup(s, {});
  await finishedJob(s, (await s.db.query('SELECT "jobId" FROM kiln_backup_details WHERE id = $1', [backupId])).rows[0].jobId);
  // Changes after the backup, so that a half-done restore would show.
  await s.db.query(`UPDATE "Loan" SET notes = 'after the backup'`);
  await s.db.query(`DELETE FROM "RepaymentAllocation" WHERE id IN (SELECT id FROM "RepaymentAllocation" LIMIT 100)`);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  const victim = await startKilnProcess({
    DATABASE_URL: s.kiln.databaseUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY,
    BACKUP_DIR: backupDir,
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kiln-restore-crash-')),
    JOB_LEASE_TTL_SECONDS: '1',
  });
  const token = await loginToken(victim.url);
  const before = await fingerprint(s.db); // after our own login, which writes a session
  const res = await gql(victim.url, RESTORE, { id: backupId }, token);
  expect(res.errors).toBeUndefined();
  const jobId = res.data!.restoreBackup.id;

  // Wait until rows are being written inside the restore transaction, then kill.
  // Polled every 20 ms: the load phase of a small database is short.
  await eventually('the restore to be two thirds into its load', async () => {
    const { rows } = await s.db.query(`SELECT phase, "rowsDone", "rowsTotal", status FROM kiln_jobs WHERE id = $1`, [jobId]);
    const job = rows[0];
    if (job.status !== 'RUNNING') throw new Error(`restore ended (${job.status}) before it could be killed`);
    return job.phase === 'restore' && Number(job.rowsDone) > (Number(job.rowsTotal) * 2) / 3 + 1000;
  }, 60_000, 20);
  victim.child.kill('SIGKILL');
  await victim.exited;
  // PostgreSQL rolls back the transaction of the dead connection.
  await eventually('PostgreSQL to end the dead gateway\'s transaction', async () => {
    const { rows } = await s.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'kiln' AND state LIKE 'idle in transaction%'`);
    return rows[0].n === 0;
  }, 30_000, 50);
  expect(await fingerprint(s.db)).toEqual(before);
}, 120_000);
