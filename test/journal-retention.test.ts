/**
 * Retention and the change journal: segments go with the backups they serve, never before.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { extraDatabaseName, finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { errorCode, gql } from './support/test-kiln';
import { until } from './support/until';
import { describeWithJournal } from './support/journal-server';

let s: SeededKiln;
describeWithJournal('journal retention', () => {
  beforeAll(async () => {
    s = await startSeededKiln(3, { JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '600' }, extraDatabaseName('journal_retention'));
    expect((await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { continuous: true, retentionDays: 30, keepAtLeast: 1 }) { continuous } }', {}, s.token)).errors).toBeUndefined();
    await until('no job to run', async () => (await s.db.query(`SELECT 1 FROM kiln.kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rowCount, (n) => n === 0, 60_000, 100);
  });
  afterAll(async () => {
    if (s) await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { continuous: false }) { continuous } }', {}, s.token);
    await s?.close();
  });

  /** Inserts a row; once the journal holds it, its transaction's id and an instant after it. */
  async function changeAndWait(id: string): Promise<{ xid: bigint; at: Date }> {
    await s.db.query('BEGIN');
    const xid = BigInt((await s.db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0].xid);
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ($1, $1, 1, 2, now())`, [id]);
    await s.db.query('COMMIT');
    const at = (await s.db.query<{ at: Date }>(`SELECT date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond' AS at`)).rows[0].at;
    await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (c) => (c?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    return { xid, at };
  }

  it('deletes the segments older than the oldest backup it keeps, with the backups; restores from that backup on still work', async () => {
    const { xid: old } = await changeAndWait('ret-old');
    // Transaction ids are the cluster's: a transaction of another database (another test file) open
    // since before this one keeps every snapshot's xmin below it. The backup's snapshot must be past it.
    await until('no transaction older than it to run', async () => BigInt((await s.db.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin')).rows[0].xmin), (xmin) => xmin > old, 60_000, 100);
    const kept = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
    const { at: after } = await changeAndWait('ret-new');
    // A hundred days pass for the backups before the kept one.
    const snapshotAt = (await s.db.query<{ at: Date }>(`SELECT "snapshotAt" AS at FROM kiln.kiln_backup_details WHERE id = $1`, [kept.id])).rows[0].at;
    await s.db.query(`UPDATE backup_records SET "createdAt" = "createdAt" - interval '100 days' WHERE id <> $1`, [kept.id]);
    await s.db.query(`UPDATE kiln.kiln_backup_details SET "snapshotAt" = "snapshotAt" - interval '100 days' WHERE id <> $1`, [kept.id]);
    // The segments the kept backup holds all of: every transaction in them is below its snapshot's xmin.
    const aged = await s.db.query<{ storageKey: string }>(
      `SELECT s."storageKey" FROM kiln.kiln_journal_segments s, kiln.kiln_backup_details d
        WHERE d.id = $1 AND s."maxXid" < split_part(d.snapshot, ':', 1)::bigint`,
      [kept.id],
    );
    const all = (await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM kiln.kiln_journal_segments')).rows[0].n;
    expect(aged.rowCount).toBeGreaterThan(0);

    const preview = (await gql(s.kiln.url, '{ retentionPreview { backups { id } journalSegments journalBytes } }', {}, s.token)).data!.retentionPreview;
    expect(preview.backups.map((b: { id: string }) => b.id)).not.toContain(kept.id);
    expect(preview.journalSegments).toBe(aged.rowCount);
    expect(preview.journalBytes).toBeGreaterThan(0);

    const job = await finishedJob(s, (await gql(s.kiln.url, 'mutation { applyRetention { id } }', {}, s.token)).data!.applyRetention.id);
    expect(job.message).toMatch(new RegExp(`deleted ${aged.rowCount} change journal segment\\(s\\) no remaining backup needs`));
    expect((await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM kiln.kiln_journal_segments')).rows[0].n).toBe(all - aged.rowCount!);
    for (const { storageKey } of aged.rows) expect(existsSync(path.join(s.kiln.backupDir, storageKey))).toBe(false);

    // The kept backup and the journal after it still restore; nothing before it does.
    const preview2 = await gql(s.kiln.url, 'query($at: DateTimeISO!) { pointInTimePreview(at: $at) { base { id } transactions } }', { at: after.toISOString() }, s.token);
    expect(preview2.data!.pointInTimePreview).toMatchObject({ base: { id: kept.id }, transactions: 1 });
    const before = new Date(snapshotAt.getTime() - 1000);
    expect(errorCode(await gql(s.kiln.url, 'query($at: DateTimeISO!) { pointInTimePreview(at: $at) { transactions } }', { at: before.toISOString() }, s.token))).toBe('BAD_USER_INPUT');
  });
});
