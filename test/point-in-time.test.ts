/**
 * Restore to a point in time, end to end on the embedded PostgreSQL: a base backup taken while a
 * transaction spans its snapshot, a journal of inserts, updates, deletes and a TRUNCATE after it,
 * and restores to instants between them that give back exactly the data of each instant.
 */
import { Client } from 'pg';
import { finishedJob, startBackup, startSeededKiln, extraDatabaseName, type SeededKiln } from './support/seeded-kiln';
import { fingerprint } from './support/restore-helpers';
import { errorCode, gql, loginToken } from './support/test-kiln';
import { until } from './support/until';

const SET = 'mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { continuous } }';
const PITR = 'mutation($at: DateTimeISO!) { restoreToPointInTime(at: $at) { id kind status } }';

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(5, { JOURNAL_SEGMENT_SECONDS: '0.2' }, extraDatabaseName('pitr'));
  const on = await gql(s.kiln.url, SET, { i: { continuous: true } }, s.token);
  expect(on.errors).toBeUndefined();
  await until('the journal to stream', () => s.kiln.services.journal.streaming, (streamer) => streamer !== null, 30_000, 50);
});
afterAll(async () => {
  if (s) await gql(s.kiln.url, SET, { i: { continuous: false } }, await loginToken(s.kiln.url));
  await s?.close();
});

/** The server's clock now: every transaction committed before this call has an earlier commit time. */
async function instant(): Promise<Date> {
  return (await s.db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
}

async function maintenance(token: string, on: boolean): Promise<void> {
  const res = await gql(s.kiln.url, 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on) { enabled } }', { on }, token);
  expect(res.errors).toBeUndefined();
}

it('gives back exactly the data of each instant: base backup plus the journal up to it, a spanning transaction and a TRUNCATE included', async () => {
  // Journaled, and in the base backup too: not replayed again.
  await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pitr-0', 'in the base', 1, 2, now())`);
  const before = await instant(); // before any base backup: not restorable

  // A transaction open across the base backup's snapshot: not in the base, replayed from the journal.
  const spanning = new Client({ connectionString: s.kiln.databaseUrl });
  await spanning.connect();
  await spanning.query('BEGIN');
  await spanning.query(`UPDATE "LoanType" SET name = name || ' (spanning)', "maxAmount" = 123456789012.34 WHERE id = (SELECT min(id) FROM "LoanType")`);
  const { jobId } = await startBackup(s);
  const base = (await finishedJob(s, jobId)).backup;
  const tables = Object.keys(base.recordCounts);
  await spanning.query('COMMIT');
  await spanning.end();

  const instants: Array<{ at: Date; data: Record<string, string> }> = [];
  const mark = async () => instants.push({ at: await instant(), data: await fingerprint(s.db, tables) });
  await mark(); // 0: the spanning update
  await s.db.query(
    `INSERT INTO "LoanType" (id, name, description, "minAmount", "maxAmount", "termUnit", "updatedAt") VALUES ('pitr-1', 'Zoë ✓ 陶器', E'tab\\there \\\\ "q"', 0.01, 99999999999.99, 'WEEK', '2026-12-03 10:11:12.345')`,
  );
  await mark(); // 1: an insert with every kind of value
  await s.db.query('BEGIN');
  await s.db.query(`UPDATE "Union" SET name = name || ' renamed', "deletedAt" = now() WHERE id = (SELECT max(id) FROM "Union")`);
  await s.db.query(`DELETE FROM "UserNote" WHERE id = (SELECT min(id) FROM "UserNote")`);
  await s.db.query(`UPDATE "LoanType" SET "isActive" = false WHERE id = 'pitr-1'`);
  await s.db.query('COMMIT');
  await mark(); // 2: a transaction of several changes
  await s.db.query('TRUNCATE "UserNote"');
  await s.db.query(`DELETE FROM "LoanType" WHERE id = 'pitr-1'`);
  await mark(); // 3: a TRUNCATE, then a delete
  for (const [i, { data }] of instants.entries()) {
    if (i > 0) expect(data).not.toEqual(instants[i - 1].data); // each instant is a different state
  }

  const last = instants[instants.length - 1].at;
  await until('the journal to hold every instant', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= last, 30_000, 100);

  let token = s.token;
  const refused = await gql(s.kiln.url, PITR, { at: before.toISOString() }, token);
  expect(errorCode(refused)).toBe('MAINTENANCE_REQUIRED');
  await maintenance(token, true);
  const outside = await gql(s.kiln.url, PITR, { at: before.toISOString() }, token);
  expect(errorCode(outside)).toBe('BAD_USER_INPUT');
  expect(outside.errors![0].message).toMatch(new RegExp(`^${before.toISOString()} cannot be restored: the journal can restore \\S+ to \\S+`));

  for (const index of [2, 0, 3, 1]) {
    const { at, data } = instants[index];
    const res = await gql(s.kiln.url, PITR, { at: at.toISOString() }, token);
    expect(res.errors).toBeUndefined();
    const id = res.data!.restoreToPointInTime.id as string;
    await s.kiln.services.jobs.settled(id);
    const job = await s.kiln.services.jobs.get(id); // read directly: the restore logged the caller out
    expect(job).toMatchObject({ status: 'COMPLETED' });
    expect(job.message).toMatch(new RegExp(`from backup ${base.id} and replayed \\d+ journal transactions`));
    expect({ index, data: await fingerprint(s.db, tables) }).toEqual({ index, data });
    token = await loginToken(s.kiln.url); // a restore logs everybody out
  }
  await maintenance(token, false);
});
