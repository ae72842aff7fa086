import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { DataSource } from 'typeorm';
import type { BackupRecord } from '../backup/records/backup-record';
import { decryptIfEncrypted } from '../crypto/decrypt-if-encrypted';
import type { BackupSigner } from '../backup/format/backup-signature';
import { newId } from '../db/ids';
import { LENDING_TABLES } from '../domain';
import { BackupCorruptError, BadUserInputError, StorageUnavailableError } from '../errors/kiln-errors';
import type { JobLeases } from '../jobs/job-leases';
import type { Logger } from '../logging/logger';
import type { StorageDriver } from '../storage/storage-driver';
import { JournalStore, type JournalChain, type StoredSegment } from './journal-store';
import { JournalStreamer } from './journal-streamer';
import { missingForJournal, readLogicalDecodingFacts } from './logical-decoding';
import { journalSlotNames, ReplicationSlot } from './replication-slot';
import type { RecoveryWindow } from './journal.types';
import { queryOne } from '../db/sql';

export const JOURNAL_LEASE = 'journal-stream';

export interface JournalSettings {
  /** The database's URL: the replication connection opens its own. */
  databaseUrl: string;
  databaseName: string;
  leases: JobLeases;
  signer: BackupSigner;
  encryptionKey?: Buffer;
  /** Where segments go, from the schedule's location (read each time a streamer starts, and before each copy). */
  placement(): Promise<SegmentPlacement>;
  /** Every store segments may be in (they stay where they were written when the location changes). */
  stores: StorageDriver[];
  /** The off-site store, when one is configured: where the off-site copies are. */
  offsite?: StorageDriver;
  /** Keys segments may be encrypted with (the backup keys). */
  readKeys: Buffer[];
  /** Whether the schedule wants the journal on (read from the database: every instance follows it). */
  wanted(): Promise<boolean>;
  logger: Logger;
  /** How often each instance checks the journal (and renews its lease while it streams). */
  checkMs: number;
  segmentMs: number;
  segmentBytes: number;
  /** A chain started (turned on, or a lost slot replaced): it needs a base backup before any of it can be restored. */
  onChainStarted?(chain: JournalChain): Promise<void>;
  /** Health flags the journal past these. */
  maxLagSeconds: number;
  maxRetainedBytes: number;
}

/** Where segments are written, and (BOTH) the store each is copied to once stored. */
export interface SegmentPlacement {
  write: StorageDriver;
  /** `write` is the off-site store (CLOUD): each segment is its own off-site copy. */
  writesOffsite: boolean;
  copyTo?: StorageDriver;
}

/** A health problem of the journal, as backup health lists them. */
export interface JournalProblem {
  code: 'JOURNAL_SLOT_LOST' | 'JOURNAL_LAGGING' | 'JOURNAL_WAL_RETAINED' | 'JOURNAL_NO_BASE' | 'JOURNAL_OFFSITE_BEHIND';
  text: string;
}

/** What a restore to an instant starts from and replays. */
export interface PointInTimePlan {
  at: Date;
  base: BackupRecord;
  chain: JournalChain;
  /** The chain's segments to read, in order: from shortly before the base's snapshot to just past `at`. */
  segments: StoredSegment[];
}

/** A span of time the journal can restore any instant of. */
export interface RestorableSpan {
  from: Date;
  to: Date;
  chain: string;
}

/**
 * Whether a backup can be the base of a restore on this chain: its snapshot was taken while the
 * chain ran (both times from the database's clock), so every transaction it lacks is in the journal.
 */
function onChain(base: BackupRecord, chain: JournalChain): boolean {
  return base.snapshotAt !== null && base.snapshotAt >= chain.startedAt && (!chain.endedAt || base.snapshotAt <= chain.endedAt);
}

// How far behind the server's clock "complete up to" is claimed: a commit's time is taken just before its record is written.
const COVERED_MARGIN_MS = 1000;
// Segments one off-site copy run takes on; the next stored segment or check starts another.
const COPY_BATCH = 500;


/**
 * The change journal: on while the schedule says `continuous`, streamed by exactly one instance
 * (the holder of the journal lease; another takes over once its lease lapses), and gone without
 * a trace when turned off (slot and publication dropped, the chain ended).
 */
export class JournalService {
  readonly store: JournalStore;
  private readonly slot: ReplicationSlot;
  private streamer: JournalStreamer | null = null;
  /** This instance's lease holder id while it streams; it also tags the segments being written. */
  private holder: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  /** The running off-site copy (BOTH), and how to stop it. */
  private copying: { done: Promise<void>; abort: AbortController; again: boolean } | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: JournalSettings,
  ) {
    this.store = new JournalStore(dataSource);
    this.slot = new ReplicationSlot(dataSource, journalSlotNames(settings.databaseName));
  }

  /** BAD_USER_INPUT naming everything this server lacks for the journal; nothing when it is ready. */
  async assertReady(): Promise<void> {
    const missing = missingForJournal(await readLogicalDecodingFacts(this.dataSource, LENDING_TABLES, this.slot.names.slot));
    if (missing.length > 0) throw new BadUserInputError(`The change journal cannot run on this server: ${missing.join('; ')}`, { field: 'continuous', missing });
  }

  /** Makes the slot, publication and an open chain (whatever of them is missing); streaming follows at the next check. */
  async enable(): Promise<JournalChain> {
    await this.assertReady();
    const open = await this.store.openChainNow();
    const created = await this.slot.ensure(LENDING_TABLES);
    if (open && !created) return open;
    // A slot made now starts a new chain: what happened between the old one's end and now is a gap.
    if (open) await this.store.endChain(open.id, 'its replication slot was gone');
    const chain = { id: newId(), ...this.slot.names, startLsn: created!.createdAt, startedAt: new Date(), endedAt: null, endReason: null };
    await this.store.openChain(chain);
    this.settings.logger.info({ event: 'journal_chain_started', chain: chain.id, startLsn: chain.startLsn }, 'change journal started');
    await this.settings.onChainStarted?.(chain).catch((err: unknown) =>
      this.settings.logger.warn({ event: 'journal_base_backup_not_started', chain: chain.id, err }, 'could not start a base backup for the new journal chain'),
    );
    return chain;
  }

  /** What backup health flags about the journal while it is wanted: a lost slot, lag, retained WAL, no base backup yet. */
  async problems(bases: (at: Date) => Promise<BackupRecord[]>): Promise<JournalProblem[]> {
    if (!(await this.settings.wanted())) return [];
    const problems: JournalProblem[] = [];
    const chain = await this.store.openChainNow();
    const slot = chain ? await this.slot.state() : null;
    if (!chain || !slot || slot.walStatus === 'lost') {
      problems.push({ code: 'JOURNAL_SLOT_LOST', text: 'The change journal is on but its replication slot is gone: changes since are not kept until it is made again' });
      return problems;
    }
    const now = await this.refreshCoverage();
    const lag = chain.coveredUntil && now ? (now.getTime() - Math.max(chain.coveredUntil.getTime(), chain.startedAt.getTime())) / 1000 : null;
    if (lag !== null && lag > this.settings.maxLagSeconds) {
      problems.push({ code: 'JOURNAL_LAGGING', text: `The change journal is ${Math.round(lag)} s behind (more than JOURNAL_MAX_LAG_SECONDS=${this.settings.maxLagSeconds})` });
    }
    if (slot.retainedBytes > this.settings.maxRetainedBytes) {
      problems.push({
        code: 'JOURNAL_WAL_RETAINED',
        text: `The server keeps ${Math.round(slot.retainedBytes / 1048576)} MB of WAL for the change journal (more than JOURNAL_MAX_RETAINED_MB=${Math.round(this.settings.maxRetainedBytes / 1048576)})`,
      });
    }
    if ((await this.settings.placement()).copyTo) {
      const backlog = await this.store.offsiteBacklog();
      if (backlog.count > 0 && backlog.oldestSeconds > this.settings.maxLagSeconds) {
        problems.push({
          code: 'JOURNAL_OFFSITE_BEHIND',
          text: `${backlog.count} journal segment(s) have no off-site copy yet, the oldest stored ${Math.round(backlog.oldestSeconds)} s ago (more than JOURNAL_MAX_LAG_SECONDS=${this.settings.maxLagSeconds})`,
        });
      }
    }
    const based = (await bases(now ?? new Date())).some((b) => onChain(b, chain));
    if (!based) problems.push({ code: 'JOURNAL_NO_BASE', text: `No backup has completed since the change journal's chain began (${chain.startedAt.toISOString()}): no instant since can be restored yet` });
    return problems;
  }

  /**
   * Stops streaming everywhere: the slot's sender is ended, slot and publication dropped, the chain
   * ended. Called once the switch is saved off: a check already running (it may have read the
   * switch on, and start a stream) is waited for first, and every later one reads it off.
   */
  async disable(): Promise<void> {
    await this.checking;
    await this.dropJournal();
  }

  private async dropJournal(): Promise<void> {
    await this.stopStreaming();
    await this.slot.drop();
    const open = await this.store.openChainNow();
    if (open) await this.store.endChain(open.id, 'turned off');
  }

  /**
   * The restorable spans: for each chain, from its oldest base backup (one taken while the chain
   * ran) to the instant up to which every commit is stored. Newest first.
   */
  async restorableSpans(bases: (at: Date) => Promise<BackupRecord[]>): Promise<RestorableSpan[]> {
    const spans: RestorableSpan[] = [];
    for (const chain of await this.store.chains()) {
      const to = chain.endedAt && chain.coveredUntil && chain.endedAt < chain.coveredUntil ? chain.endedAt : chain.coveredUntil;
      if (!to) continue;
      const within = (await bases(to)).filter((b) => onChain(b, chain));
      const oldest = within.at(-1);
      if (oldest) spans.push({ from: oldest.snapshotAt!, to, chain: chain.id });
    }
    return spans;
  }

  /** The restorable spans oldest first, the gaps between them, and how far behind the journal is. */
  async window(bases: (at: Date) => Promise<BackupRecord[]>): Promise<RecoveryWindow> {
    const now = await this.refreshCoverage();
    const chains = await this.store.chains();
    const spans = (await this.restorableSpans(bases)).reverse();
    const gaps = spans.slice(1).map((span, i) => ({
      from: spans[i].to,
      to: span.from,
      reason: chains.find((c) => c.id === spans[i].chain)?.endReason ?? 'no backup was taken early enough in the next journal chain',
    }));
    const open = chains.find((c) => !c.endedAt);
    const slot = open ? await this.slot.state() : null;
    return {
      continuous: await this.settings.wanted(),
      earliest: spans[0]?.from ?? null,
      latest: spans.at(-1)?.to ?? null,
      lagSeconds: open?.coveredUntil && now ? Math.max(0, (now.getTime() - open.coveredUntil.getTime()) / 1000) : null,
      retainedWalBytes: slot?.retainedBytes ?? null,
      spans: spans.map(({ from, to }) => ({ from, to })),
      gaps,
    };
  }

  /**
   * When the server has nothing newer than what Kiln acknowledged (an idle database), every commit
   * up to now is stored: recorded, so the window reaches now. Returns the server's clock.
   */
  private async refreshCoverage(): Promise<Date | null> {
    const open = await this.store.openChainNow();
    if (!open) return null;
    // The clock first, then the WAL insert position (a commit's time is taken just before its record is written, so the margin).
    const row = await queryOne<{ now: Date; caughtUp: boolean | null }>(
      this.dataSource,
      `SELECT now, (SELECT confirmed_flush_lsn >= insert FROM pg_replication_slots WHERE slot_name = $1) AS "caughtUp"
         FROM (SELECT clock_timestamp() AS now) c, LATERAL (SELECT pg_current_wal_insert_lsn() AS insert) w`,
      [open.slot],
    );
    if (row!.caughtUp) await this.store.markCovered(open.id, new Date(row!.now.getTime() - COVERED_MARGIN_MS));
    return row!.now;
  }

  /** The base backup and segments for a restore to `at`; BAD_USER_INPUT naming the restorable spans when there are none. */
  async plan(at: Date, bases: (at: Date) => Promise<BackupRecord[]>): Promise<PointInTimePlan> {
    await this.refreshCoverage();
    const chains = await this.store.chains();
    for (const base of await bases(at)) {
      const chain = chains.find((c) => onChain(base, c) && c.coveredUntil && c.coveredUntil >= at && (!c.endedAt || c.endedAt >= at));
      if (!chain) continue;
      const all = await this.store.segments(chain.id);
      // Exactly the segments that can hold a transaction to replay: from the first holding an xid
      // the base's snapshot may lack (none below its xmin), to the last holding a commit by `at`.
      const xmin = BigInt(base.snapshot!.split(':')[0]);
      const first = all.findIndex((s) => s.maxXid === null || s.maxXid >= xmin);
      const last = all.findLastIndex((s) => s.minCommitAt === null || s.minCommitAt <= at);
      const segments = first === -1 || last < first ? [] : all.slice(first, last + 1);
      return { at, base, chain, segments };
    }
    const spans = await this.restorableSpans(bases);
    const named = spans.map((s) => `${s.from.toISOString()} to ${s.to.toISOString()}`).join(', ');
    throw new BadUserInputError(
      `${at.toISOString()} cannot be restored: ${spans.length > 0 ? `the journal can restore ${named}` : 'the journal holds no restorable span yet (turn continuous on, then take a backup)'}`,
      { field: 'at', spans: spans.map((s) => ({ from: s.from.toISOString(), to: s.to.toISOString() })) },
    );
  }

  /**
   * Segments no restore can need once only `kept` backups remain: in each chain, those before its
   * oldest kept base backup's snapshot (with the slack commit times need); all of an ended chain
   * without one. A running chain without a base yet keeps everything: its base is on the way.
   */
  async expiredSegments(kept: readonly BackupRecord[]): Promise<StoredSegment[]> {
    const expired: StoredSegment[] = [];
    for (const chain of await this.store.chains()) {
      const bases = kept.filter((b) => onChain(b, chain));
      if (bases.length === 0 && !chain.endedAt) continue;
      const segments = await this.store.segments(chain.id);
      if (bases.length === 0) {
        expired.push(...segments);
        continue;
      }
      // The oldest base holds every transaction below its snapshot's xmin.
      const xmin = bases.map((b) => BigInt(b.snapshot!.split(':')[0])).reduce((a, b) => (b < a ? b : a));
      const first = segments.findIndex((s) => s.maxXid === null || s.maxXid >= xmin);
      // A running chain keeps its newest segment: the streamer continues from it after a restart.
      const keepFrom = first === -1 ? (chain.endedAt ? segments.length : segments.length - 1) : first;
      expired.push(...segments.slice(0, keepFrom));
    }
    return expired;
  }

  /** Deletes a segment's files (from every store, its off-site copy too) and then its row. */
  async deleteSegment(segment: StoredSegment): Promise<void> {
    for (const { store, key } of this.copiesOf(segment)) await store.delete(key);
    await this.store.deleteSegment(segment);
  }

  /** Where a segment may be: under its key in every store (the one it was written to comes first), and its off-site copy. */
  private copiesOf(segment: StoredSegment): { store: StorageDriver; key: string }[] {
    const copies = this.settings.stores.map((store) => ({ store, key: segment.storageKey }));
    if (segment.offsiteKey && segment.offsiteKey !== segment.storageKey && this.settings.offsite) copies.push({ store: this.settings.offsite, key: segment.offsiteKey });
    return copies;
  }

  /** A stored segment's lines: decrypted and gunzipped, from whichever store holds it (BOTH: the off-site copy when the local one is gone). */
  async openSegment(segment: StoredSegment): Promise<Readable> {
    let unreachable: unknown;
    for (const { store, key } of this.copiesOf(segment)) {
      const found = await store.stat(key).catch((err: unknown) => {
        unreachable = err;
        return null;
      });
      if (!found) continue;
      const plain = await decryptIfEncrypted(await store.get(key), this.settings.readKeys);
      const lines = createGunzip();
      plain.once('error', (err) => lines.destroy(err));
      return plain.pipe(lines);
    }
    if (unreachable) throw new StorageUnavailableError(`Journal segment ${segment.storageKey} cannot be read: ${(unreachable as Error).message}`);
    throw new BackupCorruptError(`Journal segment ${segment.storageKey} (${segment.chain}#${segment.sequence}) is missing from storage`);
  }

  /** Checks now and then every `checkMs`. */
  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.settings.checkMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await this.stopStreaming();
  }

  /** One check, joined if one runs: stream if the journal is wanted and the lease is ours to take. Never throws. */
  check(): Promise<void> {
    this.checking ??= this.checkOnce()
      .catch((err: unknown) => this.settings.logger.warn({ event: 'journal_check_failed', err }, 'journal check failed; retrying at the next'))
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** Whether this instance streams now (tests, health). */
  get streaming(): JournalStreamer | null {
    return this.streamer;
  }

  private async checkOnce(): Promise<void> {
    const wanted = await this.settings.wanted();
    const chain = wanted ? await this.store.openChainNow() : null;
    if (!chain) {
      await this.stopStreaming();
      // Off, yet a chain or slot is left (a gateway stopped between saving the switch and dropping
      // them, or a slot repair racing the switch): Kiln never leaves a slot behind.
      if (!wanted && ((await this.store.openChainNow()) || (await this.slot.state()))) {
        this.settings.logger.warn({ event: 'journal_stray_slot_dropped' }, 'the change journal is off: its leftover slot and chain are dropped');
        await this.dropJournal();
      }
      return;
    }
    if (this.holder) {
      if (await this.settings.leases.renew(JOURNAL_LEASE, this.holder)) {
        if (await this.repairedLostSlot(chain)) return;
        if (this.streamer && this.streamer.writesTo !== (await this.settings.placement()).write) {
          // The schedule's location changed: the next segments go where it says now.
          const moved = this.streamer;
          this.streamer = null;
          await moved.stop().catch(() => undefined); // a segment it could not store is sent again
          await this.slot.released();
        }
        if (!this.streamer) await this.startStreaming(chain);
        this.copyOffsite();
        return;
      }
      this.settings.logger.warn({ event: 'journal_lease_lost', chain: chain.id }, 'another instance holds the journal lease now');
      await this.stopStreaming(false);
    }
    const holder = `journal${newId()}`;
    if (!(await this.settings.leases.decide(JOURNAL_LEASE, holder, async (_tx, state) => state.holder === null))) return;
    this.holder = holder;
    await this.startStreaming(chain);
  }

  /**
   * The holder's check that the chain's slot still exists (dropped behind Kiln's back, invalidated by
   * max_slot_wal_keep_size, dropped by a managed service): if not, the chain ends there (a gap) and
   * a new one starts with a new slot and a new base backup. True when it did that.
   */
  private async repairedLostSlot(chain: JournalChain): Promise<boolean> {
    const slot = await this.slot.state();
    if (slot && slot.walStatus !== 'lost') return false;
    if (!(await this.settings.wanted())) return false; // turned off meanwhile: the slot was dropped on purpose
    const why = slot ? 'its replication slot was invalidated (the server removed WAL it still needed: max_slot_wal_keep_size)' : 'its replication slot was lost (dropped outside Kiln)';
    this.settings.logger.error({ event: 'journal_chain_broken', chain: chain.id, reason: why }, 'the change journal lost its slot: a new chain and base backup start now');
    const streamer = this.streamer;
    this.streamer = null;
    await streamer?.stop().catch(() => undefined); // its stream is gone with the slot
    await this.store.endChain(chain.id, why);
    if (slot) await this.slot.drop();
    await this.startStreaming(await this.enable());
    return true;
  }

  private async startStreaming(chain: JournalChain): Promise<void> {
    const placement = await this.settings.placement();
    const streamer = new JournalStreamer({
      dataSource: this.dataSource,
      connection: { connectionString: this.settings.databaseUrl },
      store: this.store,
      storage: placement.write,
      offsite: placement.writesOffsite,
      signer: this.settings.signer,
      encryptionKey: this.settings.encryptionKey,
      chain,
      logger: this.settings.logger,
      segmentMs: this.settings.segmentMs,
      segmentBytes: this.settings.segmentBytes,
      writerTag: this.holder!,
      onFailure: () => {
        if (this.streamer === streamer) this.streamer = null; // the next check starts another
      },
      onSegmentStored: () => this.copyOffsite(),
    });
    this.streamer = streamer;
    try {
      await streamer.start();
      this.settings.logger.info({ event: 'journal_streaming', chain: chain.id }, 'streaming the change journal');
    } catch (err) {
      if (this.streamer === streamer) this.streamer = null;
      throw err;
    }
  }

  /**
   * BOTH: copies the segments without an off-site copy there, oldest first, one at a time, on the
   * streaming instance, beside the stream (the server is told to forget WAL once the local copy is
   * fsynced; the off-site copy follows). A failure waits for the next segment or check. Never throws.
   */
  private copyOffsite(): void {
    const holder = this.holder;
    if (!holder) return;
    if (this.copying) {
      this.copying.again = true; // a segment stored while copying: one more run once this one ends
      return;
    }
    const abort = new AbortController();
    const done = this.copyPending(holder, abort.signal)
      .catch((err: unknown) => {
        if (!abort.signal.aborted) this.settings.logger.warn({ event: 'journal_offsite_copy_failed', err }, 'journal segments could not be copied off-site; retrying after the next segment');
      })
      .finally(() => {
        const again = this.copying?.again && !abort.signal.aborted;
        this.copying = undefined;
        if (again) this.copyOffsite();
      });
    this.copying = { done, abort, again: false };
  }

  private async copyPending(holder: string, signal: AbortSignal): Promise<void> {
    const { write: from, copyTo } = await this.settings.placement();
    if (!copyTo) return;
    for (const segment of await this.store.withoutOffsiteCopy(COPY_BATCH)) {
      signal.throwIfAborted();
      if (!(await from.stat(segment.storageKey))) {
        this.settings.logger.error({ event: 'journal_segment_missing', chain: segment.chain, sequence: segment.sequence, key: segment.storageKey }, 'a journal segment to copy off-site is missing');
        continue;
      }
      const copy = await copyTo.put(segment.storageKey, () => from.get(segment.storageKey), { tempTag: holder, signal, expectedBytes: segment.bytes });
      // Deleted by retention while it was copied: the copy goes too.
      if (!(await this.store.setOffsiteKey(segment, copy.key))) await copyTo.delete(copy.key);
      else this.settings.logger.info({ event: 'journal_segment_copied', chain: segment.chain, sequence: segment.sequence, store: copyTo.name }, 'journal segment copied off-site');
    }
  }

  private async stopStreaming(release = true): Promise<void> {
    const [streamer, holder, copying] = [this.streamer, this.holder, this.copying];
    this.streamer = null;
    this.holder = null;
    copying?.abort.abort();
    await copying?.done;
    // A last segment it could not store is not lost: the server sends it again to the next stream
    // (or, turned off, it goes with the slot). Stopping goes on either way.
    await streamer?.stop().catch((err: unknown) => this.settings.logger.warn({ event: 'journal_stop_failed', err }, 'the journal stream stopped without storing its last segment'));
    if (holder && release) await this.settings.leases.release(JOURNAL_LEASE, holder);
  }
}
