/**
 * Restore to a point in time, end to end on the embedded PostgreSQL: a base backup taken while a
 * transaction spans its snapshot, a journal of inserts, updates, deletes and a TRUNCATE after it,
 * and restores to instants between them that give back exactly the data of each instant; ten
 * instants of concurrent transactions; edited, missing and swapped segments refused.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { finishedJob, startBackup, startSeededKiln, extraDatabaseName, type SeededKiln } from './support/seeded-kiln';
import { instantAfterCommits } from './support/point-in-time';
import { fingerprint } from './support/restore-helpers';
import { errorCode, gql, loginToken } from './support/test-kiln';
import { until } from './support/until';
import { describeWithJournal } from './support/journal-server';

const SET = 'mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { continuous } }';
const PITR = 'mutation($at: DateTimeISO!) { restoreToPointInTime(at: $at) { id kind status } }';

let s: SeededKiln;
/** An instant before the journal was turned on: never restorable. */
let beforeJournal: Date;
describeWithJournal('restore to a point in time', () => {
  beforeAll(async () => {
    // A long lease: the journal is checked when a test says so (and when switched), never in between.
    // The smallest line limit (64 KiB): the demo rows fit; a test makes a segment line that does not.
    s = await startSeededKiln(5, { JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '600', MAX_BACKUP_LINE_BYTES: String(64 * 1024) }, extraDatabaseName('pitr'));
    beforeJournal = await instant();
    const on = await gql(s.kiln.url, SET, { i: { continuous: true } }, s.token);
    expect(on.errors).toBeUndefined();
    await until('the journal to stream', () => s.kiln.services.journal.streaming, (streamer) => streamer !== null, 30_000, 50);
    await noJobRunning(); // turning it on queued a base backup
  });

  async function noJobRunning(): Promise<void> {
    await until('no job to run', async () => (await s.db.query(`SELECT 1 FROM kiln.kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rowCount, (n) => n === 0, 60_000, 100);
  }
  afterAll(async () => {
    if (s) await gql(s.kiln.url, SET, { i: { continuous: false } }, await loginToken(s.kiln.url));
    await s?.close();
  });

  /** The kiln with a token of now: every restore logs everybody out. */
  async function signedIn(): Promise<SeededKiln> {
    return { ...s, token: await loginToken(s.kiln.url) };
  }

  const instant = (): Promise<Date> => instantAfterCommits(s.db);

  async function maintenance(token: string, on: boolean): Promise<void> {
    const res = await gql(s.kiln.url, 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on) { enabled } }', { on }, token);
    expect(res.errors).toBeUndefined();
  }

  it('gives back exactly the data of each instant: base backup plus the journal up to it, a spanning transaction and a TRUNCATE included', async () => {
    // Journaled, and in the base backup too: not replayed again.
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pitr-0', 'in the base', 1, 2, now())`);
    const before = beforeJournal;

    // A transaction open across the base backup's snapshot: not in the base, replayed from the journal.
    const spanning = new Client({ connectionString: s.kiln.databaseUrl });
    await spanning.connect();
    await spanning.query('BEGIN');
    await spanning.query(`UPDATE "LoanType" SET name = name || ' (spanning)', "maxAmount" = 123456789012.34 WHERE id = (SELECT min(id) FROM "LoanType")`);
    const kiln = await signedIn();
    const { jobId } = await startBackup(kiln);
    const base = (await finishedJob(kiln, jobId)).backup;
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

    let token = kiln.token;
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
      expect(job!.message).toMatch(new RegExp(`from backup ${base.id} and replayed \\d+ journal transactions`));
      expect({ index, data: await fingerprint(s.db, tables) }).toEqual({ index, data });
      token = await loginToken(s.kiln.url); // a restore logs everybody out
    }
    await maintenance(token, false);
  });

  it('gives back exactly the data of each of ten instants of concurrent transactions: interleaved, committed out of order, one open across five instants', async () => {
    const kiln = await signedIn();
    const base = (await finishedJob(kiln, (await startBackup(kiln)).jobId)).backup;
    // Signing in (each restore logs everybody out) writes User and UserLoginHistory: the rest is compared.
    const tables = Object.keys(base.recordCounts).filter((t) => t !== 'User' && t !== 'UserLoginHistory');
    const userId = (await s.db.query(`SELECT id FROM "User" ORDER BY id LIMIT 1`)).rows[0].id as string;
    const connect = async () => {
      const client = new Client({ connectionString: s.kiln.databaseUrl });
      await client.connect();
      return client;
    };
    const workers = await Promise.all([0, 1, 2].map(connect));
    const long = await connect();
    try {
      // Each worker its own rows (no worker waits on another's lock): a report (JSONB, an enum, decimals) and notes.
      for (const [w, db] of workers.entries()) {
        await db.query(
          `INSERT INTO "ReportSession" (id, "supervisorId", "reportType", "periodStart", "periodEnd", "reportData") VALUES ($1, $2, 'WEEKLY', '2026-11-01', '2026-11-30', '{"round": -1}')`,
          [`conc-report-${w}`, userId],
        );
        for (let n = 0; n < 12; n++) {
          await db.query(`INSERT INTO "UserNote" (id, "userId", title, content, "createdByUserId", "updatedAt") VALUES ($1, $2, 'note', $3, $2, now())`, [`conc-note-${w}-${String(n).padStart(2, '0')}`, userId, `worker ${w} note ${n}`]);
        }
      }
      const instants: Array<{ at: Date; data: Record<string, string> }> = [];
      for (let round = 0; round < 10; round++) {
        if (round === 2) {
          // Open across instants 2 to 6: none of them holds it, 7 on do.
          await long.query('BEGIN');
          await long.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "termUnit", "updatedAt") VALUES ('conc-long', 'long', 5, 6, 'DAY', now())`);
          await long.query(`INSERT INTO "ReportSession" (id, "supervisorId", "periodStart", "periodEnd", "officerMetrics", "collectionRate") VALUES ('conc-report-long', $1, '2026-11-01', '2026-11-30', '{"long": true}', 12.34)`, [userId]);
        }
        if (round === 7) await long.query('COMMIT');
        await Promise.all(workers.map((db) => db.query('BEGIN')));
        // Statements interleaved across the three open transactions.
        for (const [w, db] of workers.entries()) {
          await db.query(`INSERT INTO "LoanType" (id, name, description, "minAmount", "maxAmount", "termUnit", "isActive", "updatedAt") VALUES ($1, $2, $3, $4, $5, $6, $7, now())`, [
            `conc-${round}-${w}`, `round ${round} ✓ ${w}`, round % 2 ? null : `"quoted" \\ ${w}`, `${round}.0${w}`, `${round}00.5${w}`, ['DAY', 'WEEK', 'MONTH'][w], round % 3 !== 0,
          ]);
        }
        for (const [w, db] of workers.entries()) {
          await db.query(`UPDATE "ReportSession" SET "reportData" = jsonb_build_object('round', $2::int, 'worker', $3::int, 'list', jsonb_build_array(1, 'two', null)), "totalLoans" = $2 WHERE id = $1`, [`conc-report-${w}`, round, w]);
          await db.query(`UPDATE "UserNote" SET title = title || ' r' || $2 WHERE id LIKE $1`, [`conc-note-${w}-%`, round]);
        }
        for (const [w, db] of workers.entries()) {
          await db.query(`DELETE FROM "UserNote" WHERE id = (SELECT min(id) FROM "UserNote" WHERE id LIKE $1)`, [`conc-note-${w}-%`]);
          if (round > 0) await db.query(`DELETE FROM "LoanType" WHERE id = $1`, [`conc-${round - 1}-${w}`]);
        }
        // Committed in an order that changes from round to round (never the order they began in).
        for (const w of [2, 0, 1].map((i) => (i + round) % 3)) await workers[w].query('COMMIT');
        instants.push({ at: await instant(), data: await fingerprint(s.db, tables) });
      }
      for (let i = 1; i < instants.length; i++) expect(instants[i].data).not.toEqual(instants[i - 1].data);

      const last = instants[instants.length - 1].at;
      await until('the journal to hold every instant', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= last, 30_000, 100);
      let token = await loginToken(s.kiln.url);
      await maintenance(token, true);
      for (const index of [6, 1, 9, 3, 0, 7, 4, 2, 8, 5]) {
        const { at, data } = instants[index];
        const res = await gql(s.kiln.url, PITR, { at: at.toISOString() }, token);
        expect(res.errors).toBeUndefined();
        const id = res.data!.restoreToPointInTime.id as string;
        await s.kiln.services.jobs.settled(id);
        const job = await s.kiln.services.jobs.get(id);
        expect({ index, status: job!.status, error: job!.error }).toEqual({ index, status: 'COMPLETED', error: null });
        expect(job!.message).toMatch(new RegExp(`from backup ${base.id} and replayed`));
        expect({ index, data: await fingerprint(s.db, tables) }).toEqual({ index, data });
        token = await loginToken(s.kiln.url);
      }
      await maintenance(token, false);
    } finally {
      await long.query('ROLLBACK').catch(() => undefined);
      await Promise.all([...workers, long].map((db) => db.end()));
    }
  }, 180_000);

  /** A base backup, one change after it, and the instant after that change, all stored. */
  async function baseAndChange(id: string): Promise<{ base: any; at: Date; tables: string[] }> {
    const kiln = await signedIn();
    const base = (await finishedJob(kiln, (await startBackup(kiln)).jobId)).backup;
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ($1, $1, 1, 2, now())`, [id]);
    const at = await instant();
    await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    return { base, at, tables: Object.keys(base.recordCounts) };
  }

  async function restoreTo(at: Date): Promise<{ status: string; errorCode: string | null; error: string | null }> {
    const token = await loginToken(s.kiln.url);
    await maintenance(token, true);
    const res = await gql(s.kiln.url, PITR, { at: at.toISOString() }, token);
    expect(res.errors).toBeUndefined();
    const id = res.data!.restoreToPointInTime.id as string;
    await s.kiln.services.jobs.settled(id);
    const job = (await s.kiln.services.jobs.get(id))!;
    await maintenance(await loginToken(s.kiln.url), false);
    return { status: job.status, errorCode: job.errorCode, error: job.error };
  }

  /** The stored segment holding the last commit at or before `at`, and its file. */
  async function segmentBefore(at: Date): Promise<{ file: string; bytes: Buffer }> {
    const chain = (await s.kiln.services.journal.store.openChainNow())!;
    const segment = (await s.kiln.services.journal.store.segments(chain.id)).filter((x) => x.lastCommitAt && x.lastCommitAt <= at).at(-1)!;
    const file = path.join(s.kiln.backupDir, segment.storageKey);
    return { file, bytes: readFileSync(file) };
  }

  it('shows what it would restore: the window, the base and the changes per table', async () => {
    const { base, at } = await baseAndChange('pitr-preview');
    const token = await loginToken(s.kiln.url);
    const preview = await gql(
      s.kiln.url,
      'query($at: DateTimeISO!) { pointInTimePreview(at: $at) { at base { id } segments transactions tables { table changes } } }',
      { at: at.toISOString() },
      token,
    );
    expect(preview.errors).toBeUndefined();
    expect(preview.data!.pointInTimePreview).toMatchObject({ base: { id: base.id }, transactions: 1, tables: [{ table: 'LoanType', changes: 1 }] });
    expect(preview.data!.pointInTimePreview.segments).toBeGreaterThanOrEqual(1);
    const window = (await gql(s.kiln.url, '{ recoveryWindow { continuous earliest latest lagSeconds retainedWalBytes spans { from to } gaps { reason } } }', {}, token)).data!.recoveryWindow;
    expect(window).toMatchObject({ continuous: true });
    expect(new Date(window.earliest).getTime()).toBeLessThanOrEqual(at.getTime());
    expect(new Date(window.latest).getTime()).toBeGreaterThanOrEqual(at.getTime());
    expect(window.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(window.retainedWalBytes).toBeGreaterThanOrEqual(0);
  });

  it('refuses an edited, an overlong or a missing segment as BACKUP_CORRUPT and leaves the data as they were', async () => {
    const { at, tables } = await baseAndChange('pitr-tampered');
    const { file, bytes } = await segmentBefore(at);
    // Signing in (each restore logs everybody out) writes User and UserLoginHistory: the rest must stay.
    const untouched = tables.filter((t) => t !== 'User' && t !== 'UserLoginHistory');
    const before = await fingerprint(s.db, untouched);
    try {
      writeFileSync(file, gzipSync(gunzipSync(bytes).toString('utf8').replace('"pitr-tampered"', '"pitr-tampereD"')));
      expect(await restoreTo(at)).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT', error: expect.stringMatching(/checksum does not match/) });
      expect(await fingerprint(s.db, untouched)).toEqual(before);
      // A line past MAX_BACKUP_LINE_BYTES is refused as it is read, naming the setting (a genuine row may be that long).
      writeFileSync(file, gzipSync(gunzipSync(bytes).toString('utf8').replace('"pitr-tampered"', `"${'x'.repeat(70 * 1024)}"`)));
      expect(await restoreTo(at)).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT', error: expect.stringMatching(/longer than the 65536-byte limit\. If it is genuine, raise MAX_BACKUP_LINE_BYTES$/) });
      expect(await fingerprint(s.db, untouched)).toEqual(before);
      rmSync(file);
      expect(await restoreTo(at)).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT', error: expect.stringMatching(/is missing from storage/) });
      expect(await fingerprint(s.db, untouched)).toEqual(before);
    } finally {
      writeFileSync(file, bytes);
    }
    expect(await restoreTo(at)).toMatchObject({ status: 'COMPLETED' });
  });

  it('refuses two segments swapped in storage (each file holding the other’s journal) as BACKUP_CORRUPT and leaves the data as they were', async () => {
    const { at: first, tables } = await baseAndChange('pitr-order-1');
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pitr-order-2', 'pitr-order-2', 1, 2, now())`);
    const at = await instant();
    await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    const [a, b] = [await segmentBefore(first), await segmentBefore(at)];
    expect(a.file).not.toBe(b.file);
    const untouched = tables.filter((t) => t !== 'User' && t !== 'UserLoginHistory');
    const before = await fingerprint(s.db, untouched);
    try {
      writeFileSync(a.file, b.bytes);
      writeFileSync(b.file, a.bytes);
      expect(await restoreTo(at)).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT', error: expect.stringMatching(/Journal segment \S+ (follows #\d+: segments between them are missing or out of order|does not continue)/) });
      expect(await fingerprint(s.db, untouched)).toEqual(before);
    } finally {
      writeFileSync(a.file, a.bytes);
      writeFileSync(b.file, b.bytes);
    }
    expect(await restoreTo(at)).toMatchObject({ status: 'COMPLETED' });
  });

  it('refuses to replay across a change of a table’s columns, naming it', async () => {
    const { at: beforeChange } = await baseAndChange('pitr-columns');
    await s.db.query(`ALTER TABLE "LoanType" ADD COLUMN "kilnTestColumn" text`);
    try {
      await s.db.query(`UPDATE "LoanType" SET "kilnTestColumn" = 'x' WHERE id = 'pitr-columns'`);
      const after = await instant();
      await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= after, 30_000, 100);
      expect(await restoreTo(after)).toMatchObject({ status: 'FAILED', errorCode: 'BAD_USER_INPUT', error: expect.stringMatching(/crosses a change of "LoanType"'s columns.*"kilnTestColumn" was added/) });
      expect(beforeChange.getTime()).toBeLessThan(after.getTime());
    } finally {
      await s.db.query(`ALTER TABLE "LoanType" DROP COLUMN IF EXISTS "kilnTestColumn"`);
    }
  });

  it('a slot dropped behind its back: the chain ends there, a new one starts with a new base backup, the window shows the gap', async () => {
    await baseAndChange('pitr-before-loss');
    const chain = (await s.kiln.services.journal.store.openChainNow())!;
    await s.db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, [chain.slot]);
    await until('the slot to be free', async () => (await s.db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [chain.slot])).rowCount, (n) => n === 0, 30_000, 20);
    await s.db.query('SELECT pg_drop_replication_slot($1)', [chain.slot]);
    const health = async () => (await gql(s.kiln.url, '{ backupHealth { problemCodes problems } }', {}, await loginToken(s.kiln.url))).data!.backupHealth;
    expect((await health()).problemCodes).toContain('JOURNAL_SLOT_LOST');
    await s.kiln.services.journal.check();
    const next = await until('a new chain', () => s.kiln.services.journal.store.openChainNow(), (c) => c !== null && c.id !== chain.id, 30_000, 100);
    expect((await s.kiln.services.journal.store.chains()).find((c) => c.id === chain.id)).toMatchObject({ endReason: expect.stringMatching(/replication slot was lost/) });
    // Its base backup was queued at once; once it is done, the new chain restores.
    await noJobRunning();
    expect((await health()).problemCodes.filter((c: string) => c.startsWith('JOURNAL_'))).toEqual([]);
    const base = (await s.db.query<{ kind: string }>(`SELECT d.kind FROM kiln.kiln_backup_details d JOIN backup_records r ON r.id = d.id WHERE r."createdAt" >= $1 AND lower(r.status) = 'completed'`, [next!.startedAt])).rows;
    expect(base.map((b) => b.kind)).toContain('SCHEDULED');
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pitr-after-loss', 'x', 1, 2, now())`);
    const at = await instant();
    await until('the new chain to hold it', () => s.kiln.services.journal.store.openChainNow(), (c) => (c?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    const window = (await gql(s.kiln.url, '{ recoveryWindow { spans { from to } gaps { from to reason } } }', {}, await loginToken(s.kiln.url))).data!.recoveryWindow;
    expect(window.gaps.at(-1)).toMatchObject({ reason: expect.stringMatching(/replication slot was lost/) });
    expect(new Date(window.spans.at(-1).to).getTime()).toBeGreaterThanOrEqual(at.getTime());
    expect(await restoreTo(at)).toMatchObject({ status: 'COMPLETED' });
  });

  it('restores an instant after an earlier restore: that restore’s own transaction is replayed too', async () => {
    const { at: first, tables } = await baseAndChange('pitr-before-restore');
    expect(await restoreTo(first)).toMatchObject({ status: 'COMPLETED' });
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pitr-after-restore', 'pitr-after-restore', 1, 2, now())`);
    const at = await instant();
    // Signing in writes User and UserLoginHistory: the rest is compared.
    const compared = tables.filter((t) => t !== 'User' && t !== 'UserLoginHistory');
    const expected = await fingerprint(s.db, compared);
    await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    await s.db.query(`DELETE FROM "LoanType" WHERE id IN ('pitr-after-restore', 'pitr-before-restore')`);
    expect(await restoreTo(at)).toMatchObject({ status: 'COMPLETED' });
    expect(await fingerprint(s.db, compared)).toEqual(expected);
  });

  it('replays a table switched to REPLICA IDENTITY FULL while the journal runs (as a DBA might): rows found by their primary key, nulls and all, a changed key included', async () => {
    const { tables } = await baseAndChange('pitr-full-base');
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('pitr-full-1', 'one', 1, 2, now()), ('pitr-full-2', 'two', 1, 2, now()), ('pitr-full-3', 'three', 1, 2, now())`);
    await s.db.query(`ALTER TABLE "LoanType" REPLICA IDENTITY FULL`);
    try {
      // Each old row has nulls (description, deletedAt): compared as values, none would match.
      await s.db.query(`UPDATE "LoanType" SET name = 'one, renamed' WHERE id = 'pitr-full-1'`);
      await s.db.query(`UPDATE "LoanType" SET id = 'pitr-full-2b' WHERE id = 'pitr-full-2'`);
      await s.db.query(`DELETE FROM "LoanType" WHERE id = 'pitr-full-3'`);
      const at = await instant();
      const compared = tables.filter((t) => t !== 'User' && t !== 'UserLoginHistory');
      const expected = await fingerprint(s.db, compared);
      await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (chain) => (chain?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
      // The server logged whole old rows; the journal keeps their primary key only.
      const chain = (await s.kiln.services.journal.store.openChainNow())!;
      const logged = (await s.kiln.services.journal.store.segments(chain.id))
        .flatMap((segment) => gunzipSync(readFileSync(path.join(s.kiln.backupDir, segment.storageKey))).toString('utf8').split('\n'))
        .filter((line) => line.includes('"pitr-full-'))
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.update || entry.delete);
      expect(logged.map((entry) => entry.key)).toEqual([{ id: 'pitr-full-1' }, { id: 'pitr-full-2' }, { id: 'pitr-full-3' }]);
      await s.db.query(`DELETE FROM "LoanType" WHERE id LIKE 'pitr-full-%'`);
      expect(await restoreTo(at)).toMatchObject({ status: 'COMPLETED' });
      expect(await fingerprint(s.db, compared)).toEqual(expected);
      expect((await s.db.query(`SELECT id, name FROM "LoanType" WHERE id LIKE 'pitr-full-%' ORDER BY id`)).rows).toEqual([
        { id: 'pitr-full-1', name: 'one, renamed' },
        { id: 'pitr-full-2b', name: 'two' },
        { id: 'pitr-full-base', name: 'pitr-full-base' },
      ]);
    } finally {
      await s.db.query(`ALTER TABLE "LoanType" REPLICA IDENTITY DEFAULT`);
    }
  });
});
