/**
 * The change journal's streamer against the test server's PostgreSQL (wal_level = logical): what
 * it stores, when it lets the server forget, and that a restart or a lost connection loses and
 * doubles nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { BackupSigner } from '../src/backup/format/backup-signature';
import { createDataSource } from '../src/db/data-source';
import { newId } from '../src/db/ids';
import { LENDING_TABLES } from '../src/domain';
import { assertUnbroken, SegmentReader, type JournalEntry, type ReadSegment } from '../src/journal/journal-segment';
import { JournalStore, type JournalChain } from '../src/journal/journal-store';
import { JournalStreamer, type JournalStreamerOptions } from '../src/journal/journal-streamer';
import { lsnToBigInt } from '../src/journal/lsn';
import { journalSlotNames, ReplicationSlot } from '../src/journal/replication-slot';
import { createLogger } from '../src/logging/logger';
import { LocalStorageDriver } from '../src/storage/local-storage.driver';
import type { PutOptions, PutSource, StoredObject } from '../src/storage/storage-driver';
import { extraDatabaseName } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { until } from './support/until';
import { describeWithJournal } from './support/journal-server';
import { committedChange } from './support/point-in-time';

const signer = new BackupSigner('journal-stream-test-signing-key');
const logger = createLogger('silent');
const database = extraDatabaseName('journal');
let url: string;
let ds: DataSource;
let db: Client;
let dir: string;
let store: JournalStore;
let slot: ReplicationSlot;
let chain: JournalChain;

describeWithJournal('the journal streamer', () => {
  beforeAll(async () => {
    url = await freshDatabase(database, { migrated: true });
    ds = createDataSource(url, 4);
    await ds.initialize();
    db = new Client({ connectionString: url });
    await db.connect();
    dir = mkdtempSync(path.join(tmpdir(), 'kiln-journal-'));
    store = new JournalStore(ds);
    slot = new ReplicationSlot(ds, journalSlotNames(database));
  });

  // Each test its own slot and chain: the journal holds only the commits made after the test began,
  // whatever another test committed, stored or left unacknowledged.
  beforeEach(async () => {
    const created = await slot.ensure(LENDING_TABLES);
    chain = { id: newId(), ...slot.names, startLsn: created!.createdAt, startedAt: new Date(), endedAt: null, endReason: null };
    await store.openChain(chain);
  });

  // The server's sender lets go of the slot a moment after a stream stops: a test whose stream
  // does not let go fails here, and the slot is dropped either way (the next test makes its own).
  afterEach(async () => {
    try {
      if (!(await slot.released(30_000))) throw new Error(`the slot ${slot.names.slot} is still held 30 s after the test's stream stopped`);
    } finally {
      await slot.drop();
    }
  });

  afterAll(async () => {
    await slot?.drop();
    // Kiln never leaves a slot behind.
    expect((await db.query('SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1', [slot.names.slot])).rows).toEqual([]);
    expect((await db.query(`SELECT pubname FROM pg_publication`)).rows).toEqual([]);
    await db?.end();
    await ds?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  function streamer(storage = new LocalStorageDriver(dir), onFailure: (err: unknown) => void = () => undefined, tag = newId(), extra: Partial<JournalStreamerOptions> = {}): JournalStreamer {
    return new JournalStreamer({
      dataSource: ds,
      connection: { connectionString: url },
      store,
      storage,
      offsite: false,
      signer,
      chain,
      logger,
      segmentMs: 100,
      segmentBytes: 1024 * 1024,
      writerTag: tag,
      onFailure,
      ...extra,
    });
  }

  const change = (sql: string, params: unknown[] = []) => committedChange(db, sql, params);

  const insertLoanType = (id: string) =>
    change(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ($1, $1 || ' ✓', 100.10, 123456789012.34, '2026-12-03 10:00:00.123')`, [id]);

  /** Every stored segment of the chain, read and proven whole, in order, with its entries. */
  async function journal(): Promise<{ segments: ReadSegment[]; entries: JournalEntry[] }> {
    const segments: ReadSegment[] = [];
    const entries: JournalEntry[] = [];
    for (const row of await store.segments(chain.id)) {
      const reader = new SegmentReader(row.storageKey, signer, (e) => entries.push(e));
      for (const line of gunzipSync(readFileSync(path.join(dir, row.storageKey))).toString('utf8').split('\n')) if (line) reader.push(line);
      segments.push(reader.finish());
    }
    assertUnbroken(segments);
    return { segments, entries };
  }

  const committedXids = (entries: JournalEntry[]) => entries.flatMap((e) => ('begin' in e ? [e.begin.xid] : []));

  async function storedTransactions(n: number): Promise<JournalEntry[]> {
    return (await until('the journal to store the transactions', journal, (j) => committedXids(j.entries).length >= n, 30_000, 50)).entries;
  }

  async function confirmedFlush(): Promise<bigint> {
    return lsnToBigInt((await slot.state())!.confirmedFlushLsn!);
  }

  it('stores each change with its transaction’s 64-bit xid, commit time and PostgreSQL’s own text of every value', async () => {
    const s = streamer();
    await s.start();
    try {
      const inserted = await insertLoanType('lt-1');
      const updated = await change(`UPDATE "LoanType" SET "maxAmount" = 999.99, "isActive" = false WHERE id = 'lt-1'`);
      const deleted = await change(`DELETE FROM "LoanType" WHERE id = 'lt-1'`);
      const entries = await storedTransactions(3);
      expect(committedXids(entries)).toEqual([inserted, updated, deleted]);
      const changes = entries.filter((e) => !('begin' in e) && !('commit' in e) && !('relation' in e));
      expect(changes).toEqual([
        {
          insert: 'LoanType',
          new: expect.objectContaining({ id: 'lt-1', name: 'lt-1 ✓', minAmount: '100.10', maxAmount: '123456789012.34', termUnit: 'MONTH', isActive: 't', updatedAt: '2026-12-03 10:00:00.123', deletedAt: null }),
        },
        { update: 'LoanType', key: null, new: expect.objectContaining({ id: 'lt-1', maxAmount: '999.99', isActive: 'f' }) },
        { delete: 'LoanType', key: { id: 'lt-1' } },
      ]);
      // The table's columns are stated before its first change.
      const relation = entries.find((e) => 'relation' in e) as Extract<JournalEntry, { relation: unknown }>;
      expect(relation.relation.table).toBe('LoanType');
      expect(relation.relation.columns.find((c) => c.key)?.name).toBe('id');
      const begin = entries.find((e) => 'begin' in e) as Extract<JournalEntry, { begin: unknown }>;
      expect(begin.begin.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    } finally {
      await s.stop();
    }
  });

  /** A storage whose puts wait until released: a segment is written but not yet stored. */
  function heldStorage(): { held: LocalStorageDriver; release: () => void; segmentOpened: Promise<void> } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let putCalled!: () => void;
    const segmentOpened = new Promise<void>((resolve) => (putCalled = resolve));
    const local = new LocalStorageDriver(dir);
    const held = Object.assign(Object.create(local) as LocalStorageDriver, {
      async put(key: string, source: PutSource, options: PutOptions): Promise<StoredObject> {
        putCalled();
        await released;
        return local.put(key, source, options);
      },
    });
    return { held, release, segmentOpened };
  }

  it('lets the server forget a transaction only once the segment holding it is stored', async () => {
    const { held, release, segmentOpened } = heldStorage();
    const s = streamer(held);
    await s.start();
    try {
      const before = s.storedThrough();
      const xid = await insertLoanType('lt-held');
      // The stream has read the transaction and writes its segment; the server is told nothing past what is stored.
      await segmentOpened;
      await until('the transaction to be read', () => s.receivedThrough(), (lsn) => lsn > before, 30_000, 20);
      const [toldWhileHeld, flushedWhileHeld] = [s.acknowledgedThrough(), await confirmedFlush()];
      expect(s.storedThrough()).toBe(before);
      release();
      const { entries } = await until('the held transaction to be stored', journal, (j) => committedXids(j.entries).includes(xid), 30_000, 50);
      const begin = entries.find((e) => 'begin' in e && e.begin.xid === xid) as Extract<JournalEntry, { begin: unknown }>;
      const commitEnd = entries.slice(entries.indexOf(begin)).find((e) => 'commit' in e) as Extract<JournalEntry, { commit: unknown }>;
      expect(toldWhileHeld).toBeLessThanOrEqual(lsnToBigInt(begin.begin.lsn));
      expect(flushedWhileHeld).toBeLessThanOrEqual(lsnToBigInt(begin.begin.lsn));
      await until('the server to hear it is stored', confirmedFlush, (flushed) => flushed >= lsnToBigInt(commitEnd.commit.end), 30_000, 50);
      expect(s.storedThrough()).toBe(lsnToBigInt(commitEnd.commit.end));
    } finally {
      release();
      await s.stop();
    }
  });

  it('pauses reading while the changes waiting in memory pass QUEUE_HIGH_BYTES (a few long rows, not only many messages), still answers the server meanwhile, and loses none', async () => {
    const { held, release, segmentOpened } = heldStorage();
    // Each transaction fills a segment: the stream stores the first one at its commit, and waits.
    const s = streamer(held, undefined, undefined, { queueHighBytes: 1024 * 1024, segmentBytes: 1 });
    await s.start();
    try {
      const xids = [await insertLoanType('lt-queue-0')];
      await segmentOpened; // what follows waits in memory
      // Each row 300 KB: the fourth passes the 1 MiB bound, a dozen messages in all.
      for (let i = 1; i <= 6; i++) xids.push(await change(`INSERT INTO "LoanType" (id, name, description, "minAmount", "maxAmount", "updatedAt") VALUES ($1, $1, repeat('d', 300000), 1, 2, now())`, [`lt-queue-${i}`]));
      await until('reading to pause', () => s.readingPaused, (paused) => paused, 30_000, 20);
      // Paused, it still tells the server what is stored (else the server ends it after wal_sender_timeout).
      const replied = () => db.query<{ at: Date | null }>(`SELECT r.reply_time AS at FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`, [slot.names.slot]);
      // (The time a reply states is the client's, as the library encodes it: compared only with the one before.)
      const before = (await replied()).rows[0]?.at?.getTime();
      await until('a status reply while paused', async () => (await replied()).rows[0]?.at?.getTime(), (at) => at !== undefined && at !== before, 30_000, 50);
      expect(s.readingPaused).toBe(true);
      release();
      const { entries } = await until('the journal to store them', journal, (j) => xids.every((x) => committedXids(j.entries).includes(x)), 30_000, 50);
      expect(committedXids(entries).filter((x) => xids.includes(x))).toEqual(xids);
      expect(s.readingPaused).toBe(false);
    } finally {
      release();
      await s.stop();
    }
  });

  it('an idle database still lets the slot advance: keepalives are acknowledged when nothing is held', async () => {
    const s = streamer();
    await s.start();
    try {
      const stored = s.storedThrough();
      // WAL that holds no change of the lending tables (Kiln's own table): nothing to journal.
      await db.query(`CREATE TABLE IF NOT EXISTS kiln.kiln_journal_probe (n int)`);
      await db.query(`INSERT INTO kiln.kiln_journal_probe SELECT generate_series(1, 1000)`);
      const { lsn } = (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0];
      await until('the slot to pass the idle WAL', confirmedFlush, (flushed) => flushed >= lsnToBigInt(lsn), 30_000, 100);
      expect(s.storedThrough()).toBe(stored);
    } finally {
      await db.query(`DROP TABLE IF EXISTS kiln.kiln_journal_probe`);
      await s.stop();
    }
  });

  it('a stream cut mid-segment and a restarted one: every transaction stored exactly once, the chain unbroken', async () => {
    const failures: unknown[] = [];
    const first = streamer(undefined, (err) => failures.push(err));
    await first.start();
    const xids: string[] = [];
    for (let i = 0; i < 5; i++) xids.push(await insertLoanType(`lt-cut-${i}`));
    // The connection dies (as when its instance is killed): whatever was not stored is sent again.
    await db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [slot.names.slot]);
    await until('the streamer to notice', () => failures.length, (n) => n === 1, 30_000, 50);
    for (let i = 5; i < 10; i++) xids.push(await change(`UPDATE "LoanType" SET name = $1 WHERE id = 'lt-cut-0'`, [`renamed ${i}`]));
    await until('the slot to be free', async () => (await slot.state())!.active, (active) => !active, 30_000, 50);
    const second = streamer();
    await second.start();
    try {
      const entries = await until('every transaction', async () => committedXids((await journal()).entries), (all) => xids.every((x) => all.includes(x)), 30_000, 50);
      const all = committedXids((await journal()).entries);
      expect(all.filter((x) => xids.includes(x))).toEqual(xids);
      expect(new Set(all).size).toBe(all.length);
      expect(entries.length).toBeGreaterThanOrEqual(10);
    } finally {
      await second.stop();
    }
  });

  it('a segment stored whose acknowledgement never reached the server: sent again, its transactions are not stored twice', async () => {
    const local = new LocalStorageDriver(dir);
    let cut = true;
    // The connection dies between storing a segment and telling the server.
    const cutting = Object.assign(Object.create(local) as LocalStorageDriver, {
      async put(key: string, source: PutSource, options: PutOptions): Promise<StoredObject> {
        const stored = await local.put(key, source, options);
        if (cut) {
          cut = false;
          await db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [slot.names.slot]);
          await until('the slot to be free', async () => (await slot.state())!.active, (active) => !active, 30_000, 20);
        }
        return stored;
      },
    });
    const failures: unknown[] = [];
    const first = streamer(cutting, (err) => failures.push(err));
    await first.start();
    const xids = [await insertLoanType('lt-ack-0')];
    await until('the streamer to notice', () => failures.length, (n) => n === 1, 30_000, 50);
    // The segment is recorded as the stream goes down (its store was under way).
    const stored = await until('the segment to be recorded', journal, (j) => committedXids(j.entries).includes(xids[0]), 30_000, 50);
    const begin = stored.entries.find((e) => 'begin' in e && e.begin.xid === xids[0]) as Extract<JournalEntry, { begin: unknown }>;
    expect(await confirmedFlush()).toBeLessThanOrEqual(lsnToBigInt(begin.begin.lsn)); // the server will send it again
    const second = streamer();
    await second.start();
    try {
      xids.push(await insertLoanType('lt-ack-1'));
      const all = await until('the next transaction', async () => committedXids((await journal()).entries), (x) => x.includes(xids[1]), 30_000, 50);
      expect(all.filter((x) => xids.includes(x))).toEqual(xids);
      expect(new Set(all).size).toBe(all.length);
    } finally {
      await second.stop();
    }
  });
});
