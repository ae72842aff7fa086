import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKilnProcess } from './support/kiln-process';
import { fingerprint, RESTORE } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, TEST_JWT_SECRET, TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';
import { eventually } from './support/until';

// SIGKILL in the middle of a restore's transaction: every table stays exactly as it was.
const HOLD = 7_140_014;
let s: SeededKiln;
beforeAll(async () => {
  // Small: the kill lands while the restore is held (HOLD below), not while it is merely slow.
  s = await startSeededKiln(120);
});
afterAll(async () => s?.close());

it('leaves every table as it was before the restore when the gateway is killed mid-way', async () => {
  const backupDir = s.kiln.backupDir;
  const { backupId } = await startBackup(s, {});
  await finishedJob(s, (await s.db.query('SELECT "jobId" FROM kiln_backup_details WHERE id = $1', [backupId])).rows[0].jobId);
  // Changes after the backup, so that a half-done restore would show.
  await s.db.query(`UPDATE "Loan" SET notes = 'after the backup'`);
  const deleted = await s.db.query(`DELETE FROM "RepaymentAllocation" WHERE id IN (SELECT id FROM "RepaymentAllocation" LIMIT 100)`);
  expect(deleted.rowCount).toBe(100);
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
  // Holds the load once it has written RepaymentAllocation's rows, inside the restore's transaction,
  // for as long as this session holds advisory lock HOLD: the kill lands mid-way however slow the machine.
  await s.db.query(`CREATE FUNCTION kiln_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(${HOLD}); RETURN NULL; END $$`);
  await s.db.query(`CREATE TRIGGER kiln_test_hold AFTER INSERT ON "RepaymentAllocation" FOR EACH STATEMENT EXECUTE FUNCTION kiln_test_hold()`);
  await s.db.query(`SELECT pg_advisory_lock(${HOLD})`);
  try {
    const res = await gql(victim.url, RESTORE, { id: backupId }, token);
    expect(res.errors).toBeUndefined();
    const jobId = res.data!.restoreBackup.id;
    await eventually('the restore to wait, its rows loaded, inside its transaction', async () => {
      const { rows } = await s.db.query(`SELECT status FROM kiln_jobs WHERE id = $1`, [jobId]);
      if (rows[0].status !== 'RUNNING') throw new Error(`restore ended (${rows[0].status}) before it could be killed`);
      const waiting = await s.db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE 'COPY "RepaymentAllocation"%'`);
      return waiting.rowCount === 1;
    }, 60_000, 20);
    victim.child.kill('SIGKILL');
    await victim.exited;
  } finally {
    // Let the dead gateway's backend go on: it finds its client gone and rolls the transaction back.
    await s.db.query(`SELECT pg_advisory_unlock(${HOLD})`);
  }
  await eventually('PostgreSQL to end the dead gateway\'s transaction', async () => {
    const { rows } = await s.db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND (query LIKE 'COPY "RepaymentAllocation"%' OR (application_name = 'kiln' AND state LIKE 'idle in transaction%'))`,
    );
    return rows[0].n === 0;
  }, 30_000, 50);
  await s.db.query(`DROP TRIGGER kiln_test_hold ON "RepaymentAllocation"`);
  await s.db.query(`DROP FUNCTION kiln_test_hold()`);
  expect(await fingerprint(s.db)).toEqual(before);
}, 120_000);
