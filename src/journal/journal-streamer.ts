import { once } from 'node:events';
import { PassThrough, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ClientConfig } from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { DataSource } from 'typeorm';
import type { BackupSigner } from '../backup/format/backup-signature';
import { encryptStream } from '../crypto/encryption';
import { newId } from '../db/ids';
import { queryOne } from '../db/sql';
import type { Logger } from '../logging/logger';
import type { StorageDriver, StoredObject } from '../storage/storage-driver';
import { SegmentWriter, type JournalEntry, type RowValues } from './journal-segment';
import type { ChainPosition, JournalChain, JournalStore } from './journal-store';
import { bigIntToLsn, fullTransactionId, lsnToBigInt } from './lsn';
import { primaryKeyColumns } from './primary-keys';

export interface JournalStreamerOptions {
  dataSource: DataSource;
  /** How to open the replication connection (the database's URL). */
  connection: ClientConfig;
  store: JournalStore;
  /** Where segments are written… */
  storage: StorageDriver;
  /** …and whether that is the off-site store (CLOUD): then each is its own off-site copy. */
  offsite: boolean;
  signer: BackupSigner;
  encryptionKey?: Buffer;
  chain: JournalChain;
  logger: Logger;
  /** A segment is stored once it is this old (and holds a whole transaction)… */
  segmentMs: number;
  /** …or this large, uncompressed. */
  segmentBytes: number;
  /** Names this writer's objects: two writers of one chain never overwrite each other's. */
  writerTag: string;
  /** Called once when streaming stops on an error (the connection, the storage, the database). */
  onFailure(err: unknown): void;
  /** Called after each segment is stored and recorded. */
  onSegmentStored?(): void;
  now?: () => number;
  /** Bytes of messages waiting in memory beyond which reading pauses (default QUEUE_HIGH_BYTES, 64 MiB). */
  queueHighBytes?: number;
}

/** Each message's size as the server sent it: what it holds in memory while it waits, give or take. */
const messageBytes = new WeakMap<Pgoutput.Message, number>();

/** pgoutput with every value kept as PostgreSQL's own text: exact for every type, as COPY would load it. */
class TextPgoutputPlugin extends PgoutputPlugin {
  parse(buffer: Buffer): Pgoutput.Message {
    const message = super.parse(buffer);
    if (message.tag === 'relation') for (const column of message.columns) column.parser = (raw: unknown) => raw;
    messageBytes.set(message, buffer.length);
    return message;
  }
}

type Work = { message: Pgoutput.Message } | { keepalive: bigint } | { tick: true };

// A commit's time is taken just before its WAL record is written: a sample of the server's clock
// and WAL insert position covers the commits more than this much older than the clock.
const COVERED_MARGIN_MS = 1000;
const MAX_SAMPLES = 10;

interface OpenSegment {
  writer: SegmentWriter;
  input: PassThrough;
  stored: Promise<[StoredObject, void]>;
  storeFailed: Promise<never>;
  abort: AbortController;
  key: string;
  openedAt: number;
  bytes: number;
  /** End of the last whole transaction written: where the segment ends if stored now. */
  endLsn: bigint | null;
  /** Relations whose columns this segment has stated. */
  relations: Set<number>;
  /** Lines not yet handed to gzip: sent in chunks of WRITE_CHUNK_BYTES, not a write (and a zlib call) per line. */
  pending: string[];
  pendingBytes: number;
}

const WRITE_CHUNK_BYTES = 64 * 1024;

// Work waiting in memory beyond which the replication socket is paused (the server keeps the rest):
// so many messages, or so many bytes of them (one row may be as long as a backup line may be).
// It resumes below a tenth of both.
const QUEUE_HIGH = 20_000;
const QUEUE_HIGH_BYTES = 64 * 1024 * 1024;

/**
 * Streams the lending tables' changes from Kiln's replication slot into journal segments.
 * Each segment is stored (fsynced, or uploaded) and recorded before the server is told it may
 * forget what the segment holds, so a crash at any point loses nothing: the server sends again
 * everything after the last stored segment, and a transaction stored already is recognised by its
 * commit position and skipped, so nothing is written twice either.
 *
 * Messages and keepalives are handled one at a time, in the order they arrived: a keepalive is
 * acknowledged only once everything sent before it is stored (an idle database still lets the
 * server remove old WAL).
 */
export class JournalStreamer {
  private readonly service: LogicalReplicationService;
  private readonly plugin: TextPgoutputPlugin;
  private readonly queue: Work[] = [];
  private queuedBytes = 0;
  private readonly queueHighBytes: number;
  private draining = false;
  private position!: ChainPosition;
  private segment: OpenSegment | null = null;
  /** The transaction being read; skip: stored already (before a restart). */
  private transaction: { skip: boolean; begin: JournalEntry | null } | null = null;
  private readonly relations = new Map<number, Pgoutput.MessageRelation>();
  private acknowledged = 0n;
  /** The server's clock and WAL insert position read together, waiting for the journal to be stored past that position. */
  private samples: Array<{ at: Date; lsn: bigint }> = [];
  /** Names this streamer's objects: a restarted one never writes over (or deletes) an earlier one's. */
  private readonly streamerId = newId();
  private nearXid = 0n;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private paused = false;
  private readonly now: () => number;

  constructor(private readonly options: JournalStreamerOptions) {
    // Acknowledged by hand, and never by the library's timer: it would report what was received, not stored.
    this.service = new LogicalReplicationService(options.connection, { acknowledge: { auto: false, timeoutSeconds: 0 } });
    this.plugin = new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [options.chain.publication] });
    this.now = options.now ?? Date.now;
    this.queueHighBytes = options.queueHighBytes ?? QUEUE_HIGH_BYTES;
  }

  /** Starts streaming from the chain's last stored segment; resolves once the server streams. */
  async start(): Promise<void> {
    this.position = await this.options.store.position(this.options.chain);
    this.acknowledged = this.position.endLsn;
    await this.refreshNearXid();
    this.service.on('data', (_lsn: string, message: Pgoutput.Message) => this.enqueue({ message }));
    this.service.on('heartbeat', (lsn: string, _at: number, respond: boolean) => {
      // Asked for a reply (the server ends a silent stream after wal_sender_timeout): answered at once
      // with what is stored, not behind the data still being written.
      if (respond && this.acknowledged > 0n) void this.service.acknowledge(bigIntToLsn(this.acknowledged - 1n)).catch((err: unknown) => this.fail(err, true));
      this.enqueue({ keepalive: lsnToBigInt(lsn) });
    });
    this.service.on('error', (err: Error) => this.fail(err, true));
    const started = new Promise<void>((resolve) => {
      this.service.once('start', () => resolve());
      this.waiters.failedToStart.push(resolve);
    });
    this.service.subscribe(this.plugin, this.options.chain.slot, bigIntToLsn(this.position.endLsn)).catch((err: unknown) => this.fail(err, true));
    await started;
    if (this.stopped) throw this.failure ?? new Error('the journal stream could not start');
    const every = Math.min(this.options.segmentMs, 1000);
    this.timer = setInterval(() => {
      // Paused, the server's keepalives go unread (and unanswered): a status of what is stored keeps
      // the connection alive past wal_sender_timeout while a slow store holds the queue.
      if (this.paused && this.acknowledged > 0n) void this.service.acknowledge(bigIntToLsn(this.acknowledged - 1n)).catch((err: unknown) => this.fail(err, true));
      this.enqueue({ tick: true });
    }, every);
    this.timer.unref();
  }

  /**
   * Stops streaming. The segment being written is stored when it holds whole transactions (a
   * transaction still arriving is left to the server, which sends it again).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.idle();
    try {
      if (this.segment && this.segment.endLsn !== null && !this.transaction) await this.store();
    } finally {
      this.discard();
      await this.service.stop(); // not destroy(): its listeners (ours for errors) stay, so a late connection error is not unhandled
    }
  }

  /** The store this streamer writes its segments to. */
  get writesTo(): StorageDriver {
    return this.options.storage;
  }

  /** Where the journal is stored up to. */
  storedThrough(): bigint {
    return this.position.endLsn;
  }

  /** The end of the last transaction read from the server, stored or not (its distance to storedThrough is the lag). */
  receivedThrough(): bigint {
    return this.segment?.endLsn ?? this.position.endLsn;
  }

  /** The position last reported to the server as stored: it keeps the WAL after it. */
  acknowledgedThrough(): bigint {
    return this.acknowledged;
  }

  /** Whether reading from the server waits for the queue to drain (see QUEUE_HIGH). */
  get readingPaused(): boolean {
    return this.paused;
  }

  private enqueue(work: Work): void {
    if (this.stopped) return;
    this.queue.push(work);
    if ('message' in work) this.queuedBytes += messageBytes.get(work.message) ?? 0;
    if ((this.queue.length > QUEUE_HIGH || this.queuedBytes > this.queueHighBytes) && !this.paused) this.pauseSocket(true);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const work = this.queue.shift()!;
        if ('message' in work) this.queuedBytes -= messageBytes.get(work.message) ?? 0;
        await this.handle(work);
        if (this.paused && this.queue.length < QUEUE_HIGH / 10 && this.queuedBytes < this.queueHighBytes / 10) this.pauseSocket(false);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.draining = false;
      this.emitIdle();
    }
  }

  private async handle(work: Work): Promise<void> {
    if ('tick' in work) {
      await this.sampleClock();
      if (this.segment && !this.transaction && this.now() - this.segment.openedAt >= this.options.segmentMs) await this.store();
      // Idle: ask for a keepalive (the server sends one at once), so the clock samples get covered.
      else if (!this.segment && !this.transaction && this.acknowledged > 0n) void this.service.acknowledge(bigIntToLsn(this.acknowledged - 1n), true).catch((err: unknown) => this.fail(err, true));
      return;
    }
    if ('keepalive' in work) {
      // Everything sent before this keepalive has been handled: with nothing held, all of it is stored.
      if (!this.segment && !this.transaction) this.acknowledge(work.keepalive);
      return;
    }
    const message = work.message;
    switch (message.tag) {
      case 'relation':
        this.relations.set(message.relationOid, message);
        this.segment?.relations.delete(message.relationOid); // its new columns are stated before its next change
        return;
      case 'begin': {
        const commitLsn = lsnToBigInt(message.commitLsn!);
        const skip = commitLsn < this.position.endLsn;
        const xid = fullTransactionId(message.xid, this.nearXid);
        // Written with its first change: PostgreSQL before 15 also sends transactions that changed no published table.
        this.transaction = { skip, begin: skip ? null : { begin: { xid: xid.toString(), lsn: message.commitLsn!, at: microsToIso(message.commitTime as bigint) } } };
        return;
      }
      case 'insert':
        if (!(await this.changing())) return;
        await this.stateRelation(message.relation);
        await this.write({ insert: message.relation.name, new: values(message.new) });
        return;
      case 'update': {
        if (!(await this.changing())) return;
        await this.stateRelation(message.relation);
        // The old key when it changed; under REPLICA IDENTITY FULL, the old row's primary key (replay finds the row by it).
        const key = message.key ? values(message.key) : message.old ? await this.oldKey(message.relation, message.old) : null;
        await this.write({ update: message.relation.name, key, new: values(message.new) });
        return;
      }
      case 'delete':
        if (!(await this.changing())) return;
        await this.stateRelation(message.relation);
        await this.write({ delete: message.relation.name, key: message.old ? await this.oldKey(message.relation, message.old) : values(message.key ?? {}) });
        return;
      case 'truncate':
        if (!(await this.changing())) return;
        for (const relation of message.relations) await this.stateRelation(relation);
        await this.write({ truncate: message.relations.map((r) => r.name), cascade: message.cascade, restartIdentity: message.restartIdentity });
        return;
      case 'commit': {
        // Skipped, or nothing of it written (it changed no published table).
        const written = this.transaction !== null && !this.transaction.skip && this.transaction.begin === null;
        this.transaction = null;
        if (!written || !this.segment) return;
        const end = message.commitEndLsn!;
        await this.write({ commit: { end } });
        this.segment.endLsn = lsnToBigInt(end);
        if (this.segment.bytes >= this.options.segmentBytes || this.now() - this.segment.openedAt >= this.options.segmentMs) await this.store();
        return;
      }
      default:
        return; // type, origin, message: nothing to replay
    }
  }

  /** Whether the transaction's changes are journaled; its begin line goes first. */
  private async changing(): Promise<boolean> {
    const transaction = this.transaction;
    if (!transaction || transaction.skip) return false;
    if (transaction.begin) {
      const begin = transaction.begin;
      transaction.begin = null;
      await this.write(begin);
    }
    return true;
  }

  /**
   * Under REPLICA IDENTITY FULL the server logs whole old rows, large values expanded: only the
   * primary key's values are kept (a line twice a row's size could pass MAX_BACKUP_LINE_BYTES).
   * A table without a primary key keeps the whole row.
   */
  private async oldKey(relation: Pgoutput.MessageRelation, old: Record<string, unknown>): Promise<RowValues> {
    let primaryKey = this.primaryKeys.get(relation);
    if (primaryKey === undefined) {
      primaryKey = (await primaryKeyColumns(this.options.dataSource, [String(relation.relationOid)]))[0]?.columns ?? null;
      this.primaryKeys.set(relation, primaryKey);
    }
    const all = values(old);
    if (!primaryKey || !primaryKey.every((c) => c in all)) return all;
    return Object.fromEntries(primaryKey.map((c) => [c, all[c]]));
  }

  /** Per relation message (a new one comes when a table's columns or identity change): its primary key's columns, or null. */
  private readonly primaryKeys = new WeakMap<Pgoutput.MessageRelation, string[] | null>();

  private async stateRelation(relation: Pgoutput.MessageRelation): Promise<void> {
    const segment = await this.open();
    if (segment.relations.has(relation.relationOid)) return;
    segment.relations.add(relation.relationOid);
    await this.write({
      relation: {
        table: relation.name,
        columns: relation.columns.map((c) => ({ name: c.name, type: c.typeOid, mod: c.typeMod, key: (c.flags & 1) === 1 })),
      },
    });
  }

  private async write(entry: JournalEntry): Promise<void> {
    const segment = await this.open();
    const line = segment.writer.line(entry);
    segment.bytes += line.length;
    segment.pending.push(line);
    segment.pendingBytes += line.length;
    if (segment.pendingBytes < WRITE_CHUNK_BYTES) return;
    const chunk = segment.pending.join('');
    segment.pending = [];
    segment.pendingBytes = 0;
    // A failed store destroys the input, which then never drains: wait for whichever comes first.
    if (!segment.input.write(chunk)) await Promise.race([once(segment.input, 'drain'), segment.storeFailed]);
  }

  private async open(): Promise<OpenSegment> {
    if (this.segment) return this.segment;
    const header = {
      chain: this.options.chain.id,
      sequence: this.position.sequence + 1,
      startLsn: bigIntToLsn(this.position.endLsn),
      previousChecksum: this.position.checksum,
    };
    const writer = new SegmentWriter(header, this.options.signer);
    const key = `kiln-journal-${header.chain}-${String(header.sequence).padStart(10, '0')}-${this.streamerId}.jsonl.gz`;
    const input = new PassThrough();
    const output = new PassThrough();
    const abort = new AbortController();
    const stages: Transform[] = [createGzip()];
    if (this.options.encryptionKey) stages.push(encryptStream(this.options.encryptionKey));
    const stored = Promise.all([
      this.options.storage.put(key, output, { tempTag: this.options.writerTag, signal: abort.signal }),
      pipeline([input, ...stages, output], { signal: abort.signal }),
    ]);
    stored.catch((err: unknown) => this.fail(err)); // a storage failure stops the stream (after stop(), it is ignored)
    // Rejects when the store fails; never settles otherwise (writes race it against 'drain').
    const storeFailed = new Promise<never>((_resolve, reject) => void stored.catch(reject));
    storeFailed.catch(() => undefined);
    input.write(writer.start());
    this.segment = { writer, input, stored, storeFailed, abort, key, openedAt: this.now(), bytes: 0, endLsn: null, relations: new Set(), pending: [], pendingBytes: 0 };
    return this.segment;
  }

  /** Stores the open segment, records it, and only then tells the server it may forget what it holds. */
  private async store(): Promise<void> {
    const segment = this.segment!;
    const endLsn = bigIntToLsn(segment.endLsn!);
    const { line, end } = segment.writer.end(endLsn);
    const header = segment.writer.header;
    let stored: StoredObject;
    try {
      segment.input.end(segment.pending.join('') + line);
      [stored] = await segment.stored;
      try {
        await this.options.store.addSegment(header, end, stored, this.options.offsite);
      } catch (err) {
        // Another writer recorded this segment first (a takeover race): ours, under our own key, is not the chain's.
        // Any other failure may have recorded it after all (a lost answer): the object stays.
        if ((err as { code?: string }).code === '23505') await this.options.storage.delete(stored.key).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      // An ended segment is never stored again (a stop() racing this failure would try): the server sends it again.
      if (this.segment === segment) this.discard();
      throw err;
    }
    this.segment = null;
    this.position = { sequence: header.sequence, endLsn: segment.endLsn!, checksum: end.checksum };
    this.options.logger.info({ event: 'journal_segment_stored', chain: header.chain, sequence: header.sequence, endLsn, transactions: end.transactions, changes: end.changes, bytes: stored.bytes }, 'journal segment stored');
    this.acknowledge(this.position.endLsn);
    this.options.onSegmentStored?.();
    await this.refreshNearXid();
  }

  /** Tells the server it may forget WAL before `lsn` (flush position). The library reports its argument plus one. */
  private acknowledge(lsn: bigint, force = false): void {
    // Clock samples the stored position has passed are covered, whether or not it moved now.
    this.cover(lsn > this.acknowledged ? lsn : this.acknowledged);
    if (lsn < this.acknowledged || (lsn === this.acknowledged && !force) || lsn === 0n) return;
    this.acknowledged = lsn;
    void this.service.acknowledge(bigIntToLsn(lsn - 1n)).catch((err: unknown) => this.fail(err));
  }

  /** Reads the server's clock, then its WAL insert position: once the journal is stored past that position, every commit before the clock (less the margin) is. */
  private async sampleClock(): Promise<void> {
    if (this.samples.length >= MAX_SAMPLES) return;
    const row = await queryOne<{ at: Date; lsn: string }>(this.options.dataSource, 'SELECT clock_timestamp() AS at, pg_current_wal_insert_lsn()::text AS lsn');
    this.samples.push({ at: row!.at, lsn: lsnToBigInt(row!.lsn) });
  }

  /** Records how far the journal is complete in time, from the newest clock sample the stored position has passed. */
  private cover(stored: bigint): void {
    let passed: { at: Date } | undefined;
    while (this.samples.length > 0 && this.samples[0].lsn <= stored) passed = this.samples.shift();
    if (!passed) return;
    const at = new Date(passed.at.getTime() - COVERED_MARGIN_MS);
    void this.options.store.markCovered(this.options.chain.id, at).catch((err: unknown) => this.options.logger.warn({ err, event: 'journal_cover_failed' }, 'could not record how far the journal is complete'));
  }

  /** A recent 64-bit xid, so the 32-bit ones pgoutput reports get their epoch. */
  private async refreshNearXid(): Promise<void> {
    const row = await queryOne<{ xid: string }>(this.options.dataSource, 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid');
    this.nearXid = BigInt(row!.xid);
  }

  private discard(): void {
    if (!this.segment) return;
    this.segment.abort.abort();
    this.segment.input.destroy();
    this.segment = null;
  }

  private failure: unknown;

  /** Stops on an error. A lost connection is left to close by itself: ending it then makes pg report the loss again, to no listener. */
  private fail(err: unknown, connectionLost = false): void {
    if (this.stopped) return;
    this.failure = err;
    this.options.logger.error({ err, event: 'journal_stream_failed', chain: this.options.chain.id }, 'journal stream stopped');
    this.stopped = true;
    clearInterval(this.timer);
    this.discard();
    this.emitFailedToStart();
    if (!connectionLost) void this.service.stop().catch(() => undefined);
    this.options.onFailure(err);
  }

  // A tiny event surface of its own (start-up failure, idle) without making the streamer an emitter for callers.
  private readonly waiters = { idle: [] as Array<() => void>, failedToStart: [] as Array<() => void> };

  private emitIdle(): void {
    for (const resolve of this.waiters.idle.splice(0)) resolve();
  }

  private emitFailedToStart(): void {
    for (const resolve of this.waiters.failedToStart.splice(0)) resolve();
  }

  private idle(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise((resolve) => this.waiters.idle.push(resolve));
  }

  private pauseSocket(pause: boolean): void {
    // The library keeps its connection private; pausing its socket is what its own flow control does.
    const stream = (this.service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } })._connection?.stream;
    if (pause) stream?.pause();
    else stream?.resume();
    this.paused = pause;
  }
}

/** Column text as PostgreSQL sent it; an unchanged TOASTed value (undefined) is left out. */
function values(tuple: Record<string, unknown>): RowValues {
  const out: RowValues = {};
  for (const [name, value] of Object.entries(tuple)) if (value !== undefined) out[name] = value as string | null;
  return out;
}

/** Microseconds since the Unix epoch as ISO 8601 with all six digits. */
export function microsToIso(micros: bigint): string {
  const iso = new Date(Number(micros / 1000n)).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000n).padStart(3, '0')}Z`;
}
