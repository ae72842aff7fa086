/**
 * The change journal through the API: switched by the schedule's `continuous`, streamed by one
 * instance at a time, and gone without a trace when switched off.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Client } from 'pg';
import { BackupSigner } from '../src/backup/format/backup-signature';
import { SegmentReader, type JournalEntry } from '../src/journal/journal-segment';
import { extraDatabaseName } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { errorCode, gql, loginToken, startTestKiln, TEST_BACKUP_SIGNING_KEY, type TestKiln } from './support/test-kiln';
import { startOwnCluster } from './support/own-cluster';
import { until } from './support/until';
import { describeWithJournal } from './support/journal-server';
import { insertLoanType } from './support/point-in-time';

const SET = 'mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { continuous } }';
const OTHER_SERVER = process.env.KILN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const OTHER_DATABASE = `kiln_test_journal_${process.env.KILN_TEST_RUN_ID ?? 'x'}_${process.env.JEST_WORKER_ID ?? '1'}`;

it('is refused on a server that does not decode logically, naming what it lacks (the machine PostgreSQL 15)', async () => {
  const admin = new Client({ connectionString: OTHER_SERVER, connectionTimeoutMillis: 2000 });
  await admin.connect();
  const walLevel = (await admin.query<{ wal_level: string }>('SHOW wal_level')).rows[0].wal_level;
  await admin.query(`DROP DATABASE IF EXISTS ${OTHER_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${OTHER_DATABASE}`);
  const other = new URL(OTHER_SERVER);
  other.pathname = `/${OTHER_DATABASE}`;
  const kiln = await startTestKiln({}, other.toString());
  try {
    const res = await gql(kiln.url, SET, { i: { continuous: true } }, await loginToken(kiln.url));
    if (walLevel === 'logical') {
      expect(res.errors).toBeUndefined();
    } else {
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toMatch(new RegExp(`^The change journal cannot run on this server: wal_level is ${walLevel}, logical decoding needs logical`));
      expect((await gql(kiln.url, '{ backupSchedule { continuous } }', {}, await loginToken(kiln.url))).data!.backupSchedule.continuous).toBe(false);
    }
  } finally {
    await gql(kiln.url, SET, { i: { continuous: false } }, await loginToken(kiln.url));
    await kiln.close();
    await admin.query(`DROP DATABASE IF EXISTS ${OTHER_DATABASE} WITH (FORCE)`);
    await admin.end();
  }
});

describeWithJournal('the change journal through the API', () => {
  /**
   * A migrated database of the test's own (none sees another's chains, slots or instances) and a
   * client on it. `fn` closes its gateways; then no slot is left there (one would keep the
   * database from being dropped next time).
   */
  async function withOwnDatabase(name: string, fn: (url: string, db: Client) => Promise<void>): Promise<void> {
    const url = await freshDatabase(extraDatabaseName(name), { migrated: true });
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      await fn(url, db);
    } finally {
      await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active`).catch(() => undefined);
      await db.end();
    }
  }

  async function slotsAndPublications(db: Client): Promise<unknown[]> {
    const slots = await db.query(`SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`);
    const publications = await db.query('SELECT pubname FROM pg_publication');
    return [...slots.rows, ...publications.rows];
  }

  async function journaledXids(kiln: TestKiln): Promise<string[]> {
    const signer = new BackupSigner(TEST_BACKUP_SIGNING_KEY);
    const chain = await kiln.services.journal.store.openChainNow();
    if (!chain) return [];
    const xids: string[] = [];
    for (const segment of await kiln.services.journal.store.segments(chain.id)) {
      const reader = new SegmentReader(segment.storageKey, signer, (e: JournalEntry) => 'begin' in e && xids.push(e.begin.xid));
      for (const line of gunzipSync(readFileSync(path.join(kiln.backupDir, segment.storageKey))).toString().split('\n')) if (line) reader.push(line);
      reader.finish();
    }
    return xids;
  }

  it('turned on, streams each committed change into stored segments from one instance; another takes over; turned off, leaves nothing behind', () =>
    withOwnDatabase('journal_api', async (url, db) => {
      // Short leases and segments: a takeover and a stored segment take a moment, not the defaults' seconds.
      let first: TestKiln | undefined = await startTestKiln({ JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '2' }, url);
      let second: TestKiln | undefined;
      try {
        const one = first;
        const token = await loginToken(one.url);
        expect((await gql(one.url, '{ backupSchedule { continuous } }', {}, token)).data!.backupSchedule.continuous).toBe(false);
        const on = await gql(one.url, SET, { i: { continuous: true } }, token);
        expect(on.errors).toBeUndefined();
        expect(on.data!.updateBackupSchedule.continuous).toBe(true);
        await until('an instance to stream', () => one.services.journal.streaming, (s) => s !== null, 30_000, 50);

        const xid = await insertLoanType(db, 'journal-api-1');
        await until('the change to be stored', () => journaledXids(one), (xids) => xids.includes(xid), 30_000, 100);

        // A second instance does not stream while the first holds the lease; once the first is gone, it does.
        // Instances of one deployment share their backup folder (or the cloud).
        second = await startTestKiln({ JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '2', BACKUP_DIR: one.backupDir }, url);
        await second.services.journal.check();
        expect(second.services.journal.streaming).toBeNull();
        await one.close();
        first = undefined;
        await until('the second instance to take over', () => second!.services.journal.check().then(() => second!.services.journal.streaming), (s) => s !== null, 30_000, 200);
        const later = await insertLoanType(db, 'journal-api-2');
        const xids = await until('the change to be stored', () => journaledXids(second!), (all) => all.includes(later), 30_000, 100);
        expect(xids.filter((x) => x === xid || x === later)).toEqual([xid, later]);

        const secondToken = await loginToken(second.url);
        const off = await gql(second.url, SET, { i: { continuous: false } }, secondToken);
        expect(off.errors).toBeUndefined();
        expect(off.data!.updateBackupSchedule.continuous).toBe(false);
        expect(second.services.journal.streaming).toBeNull();
        expect(await slotsAndPublications(db)).toEqual([]);
        expect((await db.query(`SELECT "endReason" FROM kiln.kiln_journal_chains`)).rows).toEqual([{ endReason: 'turned off' }]);
      } finally {
        await second?.close();
        await first?.close();
      }
    }));

  it('makes nothing for a bad input that turns it on, and drops a slot and chain left while it is off', () =>
    withOwnDatabase('journal_off', async (url, db) => {
      // The only instance, checking only when told (its timer's next check is a minute away): no other check races the leftover made below.
      const kiln = await startTestKiln({ JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '180' }, url);
      try {
        await kiln.services.journal.check(); // the one it makes on start
        const admin = await loginToken(kiln.url);
        const bad = await gql(kiln.url, SET, { i: { continuous: true, retentionDays: -5 } }, admin);
        expect(errorCode(bad)).toBe('BAD_USER_INPUT');
        expect(await slotsAndPublications(db)).toEqual([]);
        expect((await db.query(`SELECT 1 FROM kiln.kiln_journal_chains WHERE "endedAt" IS NULL`)).rowCount).toBe(0);

        // A gateway stopped between saving "off" and dropping the slot leaves both: the next check drops them.
        expect((await gql(kiln.url, '{ backupSchedule { continuous } }', {}, admin)).data!.backupSchedule.continuous).toBe(false);
        const left = await kiln.services.journal.enable();
        expect(await slotsAndPublications(db)).not.toEqual([]);
        await kiln.services.journal.check();
        expect(await slotsAndPublications(db)).toEqual([]);
        expect((await db.query(`SELECT "endReason" FROM kiln.kiln_journal_chains WHERE id = $1`, [left.id])).rows).toEqual([{ endReason: 'turned off' }]);
      } finally {
        await kiln.close();
      }
    }));
});

// In a cluster of its own: the WAL a slot holds back is the whole cluster's, and on the shared test
// server the other files' writes and open transactions kept it past 1 MB for a minute at a time. So it
// runs whatever the test server (outside describeWithJournal): the embedded cluster decodes logically.
it('flags WAL held back past JOURNAL_MAX_RETAINED_MB and a journal behind by more than JOURNAL_MAX_LAG_SECONDS, and clears both once they pass', async () => {
  const cluster = await startOwnCluster();
  const healthUrl = cluster.url;
  const kiln = await startTestKiln({ JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '600', JOURNAL_MAX_RETAINED_MB: '1', JOURNAL_MAX_LAG_SECONDS: '3' }, healthUrl).catch(async (err) => {
    await cluster.stop().catch(() => undefined); // the start's own error says what went wrong
    throw err;
  });
  const [held, writer] = [new Client({ connectionString: healthUrl }), new Client({ connectionString: healthUrl })];
  await Promise.all([held.connect(), writer.connect()]);
  try {
    const admin = await loginToken(kiln.url);
    expect((await gql(kiln.url, SET, { i: { continuous: true } }, admin)).errors).toBeUndefined();
    await until('the journal to stream', () => kiln.services.journal.streaming, (s) => s !== null, 30_000, 50);
    const journalCodes = async () =>
      ((await gql(kiln.url, '{ backupHealth { problemCodes } }', {}, admin)).data!.backupHealth.problemCodes as string[]).filter((c) => c.startsWith('JOURNAL_'));
    // Its base backup (queued when it was turned on) done, nothing is flagged.
    await until('the journal to be healthy', journalCodes, (codes) => codes.length === 0, 60_000, 200);

    // A transaction left open (one WAL record of its own) keeps the slot's restart point before it, however far
    // the journal has confirmed: the 2 MB written after it stay on the server.
    await held.query('BEGIN');
    await held.query(`SELECT pg_logical_emit_message(true, 'kiln-test', 'held open')`);
    await writer.query(`SELECT pg_logical_emit_message(false, 'kiln-test', repeat('x', 2 * 1024 * 1024))`);
    await writer.query('CHECKPOINT'); // flushes the WAL (the server sends only flushed WAL) and logs the running transactions
    const written = (await writer.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn;
    await until('the journal to confirm past the 2 MB', async () => (await writer.query(`SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND confirmed_flush_lsn >= $1`, [written])).rowCount, (n) => n === 1, 60_000, 100);
    await until('retained WAL to be flagged', journalCodes, (codes) => codes.includes('JOURNAL_WAL_RETAINED'), 30_000, 200);
    await held.query('ROLLBACK');
    await writer.query('CHECKPOINT'); // the running transactions again, without it: the restart point moves on
    // Nothing flagged before the next part: the lag flagged there is its own.
    await until('retained WAL to be released', journalCodes, (codes) => codes.length === 0, 60_000, 200);

    // A segment that cannot be recorded (its table locked) holds every commit after it: the journal falls behind.
    await held.query('BEGIN');
    await held.query('LOCK TABLE kiln.kiln_journal_segments IN EXCLUSIVE MODE');
    await writer.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('journal-health', 'x', 1, 2, now())`);
    await until('the lag to be flagged', journalCodes, (codes) => codes.includes('JOURNAL_LAGGING'), 30_000, 200);
    await held.query('COMMIT');
    await until('the journal to catch up', journalCodes, (codes) => !codes.includes('JOURNAL_LAGGING'), 30_000, 200);
  } finally {
    // Each step whatever the one before did: no client, gateway or server is left running.
    await held.query('ROLLBACK').catch(() => undefined);
    await kiln.close().catch(() => undefined);
    await Promise.allSettled([held.end(), writer.end()]);
    await cluster.stop();
  }
}, 180_000);
