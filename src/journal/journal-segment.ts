import { createHash } from 'node:crypto';
import { SignatureCheck, type BackupSignature, type BackupSigner } from '../backup/format/backup-signature';
import { BackupCorruptError } from '../errors/kiln-errors';
import { lsnToBigInt } from './lsn';

/*
 * A journal segment: one JSON value a line, newline-terminated.
 *
 *   {"format":"kiln-journal","formatVersion":1,"chain":…,"sequence":n,"startLsn":…,"previousChecksum":…}
 *   {"relation":{"table":"Loan","columns":[{"name":"id","type":25,"mod":-1,"key":true},…]}}
 *   {"begin":{"xid":"7421","lsn":"0/1A2B3C4","at":"2026-12-03T16:40:00.123456Z"}}
 *   {"insert":"Loan","new":{"id":"l1","amount":"1200.00",…}}
 *   {"update":"Loan","key":null,"new":{…}}             key: the old key when the update changed it
 *   {"delete":"Loan","key":{"id":"l1"}}
 *   {"truncate":["Loan"],"cascade":false,"restartIdentity":false}
 *   {"commit":{"end":"0/1A2B3F0"}}
 *   {"end":{"endLsn":…,"transactions":…,"changes":…,"firstCommitAt":…,"lastCommitAt":…,"checksum":…,"signature":{…}}}
 *
 * Values are PostgreSQL's own text of each column (exact for every type); a column left out of an
 * update's `new` is an unchanged TOASTed value. A relation line comes before a table's first change
 * and again whenever its columns change, so replay sees every change of shape. Transactions are
 * whole within a segment, in commit order. The checksum covers every line before the last; the
 * signature (the backup signing key) covers the header line and that checksum. Segments of a chain
 * follow each other: each starts at the LSN the one before ended and names its checksum, so a
 * missing, reordered or edited segment is found.
 */

export const JOURNAL_FORMAT = 'kiln-journal';
export const JOURNAL_FORMAT_VERSION = 1;

export interface SegmentHeader {
  format: typeof JOURNAL_FORMAT;
  formatVersion: typeof JOURNAL_FORMAT_VERSION;
  /** One chain per replication slot's life: a lost slot starts a new chain (a gap). */
  chain: string;
  sequence: number;
  /** Where the segment before it ended (the slot's starting point for the first). */
  startLsn: string;
  previousChecksum: string | null;
}

export interface SegmentEnd {
  /** The end of the last commit the segment holds (or its start, when it holds none). */
  endLsn: string;
  transactions: number;
  changes: number;
  firstCommitAt: string | null;
  lastCommitAt: string | null;
  /** The earliest commit time it holds (commit times are not quite in commit order). */
  minCommitAt: string | null;
  /** The highest 64-bit xid it holds: a base whose snapshot's xmin is above it holds all of it. */
  maxXid: string | null;
  checksum: string;
  signature: BackupSignature;
}

/** Column text by name; null is SQL NULL. */
export type RowValues = Record<string, string | null>;

export interface RelationColumn {
  name: string;
  type: number;
  mod: number;
  key: boolean;
}

export type JournalEntry =
  | { relation: { table: string; columns: RelationColumn[] } }
  | { begin: { xid: string; lsn: string; at: string } }
  | { insert: string; new: RowValues }
  | { update: string; key: RowValues | null; new: RowValues }
  | { delete: string; key: RowValues }
  | { truncate: string[]; cascade: boolean; restartIdentity: boolean }
  | { commit: { end: string } };

/** Builds a segment's lines, counting and hashing as they are written. */
export class SegmentWriter {
  private readonly hash = createHash('sha256');
  private transactions = 0;
  private changes = 0;
  private firstCommitAt: string | null = null;
  private lastCommitAt: string | null = null;
  private minCommitAt: string | null = null;
  private maxXid: bigint | null = null;
  readonly headerLine: string;

  constructor(
    readonly header: Omit<SegmentHeader, 'format' | 'formatVersion'>,
    private readonly signer: BackupSigner,
  ) {
    this.headerLine = JSON.stringify({ format: JOURNAL_FORMAT, formatVersion: JOURNAL_FORMAT_VERSION, ...header });
    this.hash.update(`${this.headerLine}\n`);
  }

  /** The header line, newline included. */
  start(): string {
    return `${this.headerLine}\n`;
  }

  line(entry: JournalEntry): string {
    if ('begin' in entry) {
      this.transactions++;
      this.firstCommitAt ??= entry.begin.at;
      this.lastCommitAt = entry.begin.at;
      // ISO times with all six digits compare as strings.
      if (this.minCommitAt === null || entry.begin.at < this.minCommitAt) this.minCommitAt = entry.begin.at;
      const xid = BigInt(entry.begin.xid);
      if (this.maxXid === null || xid > this.maxXid) this.maxXid = xid;
    } else if ('insert' in entry || 'update' in entry || 'delete' in entry || 'truncate' in entry) {
      this.changes++;
    }
    const line = `${JSON.stringify(entry)}\n`;
    this.hash.update(line);
    return line;
  }

  get transactionCount(): number {
    return this.transactions;
  }

  /** The last line; the segment ends at `endLsn`. */
  end(endLsn: string): { line: string; end: SegmentEnd } {
    const checksum = this.hash.digest('hex');
    const end: SegmentEnd = {
      endLsn,
      transactions: this.transactions,
      changes: this.changes,
      firstCommitAt: this.firstCommitAt,
      lastCommitAt: this.lastCommitAt,
      minCommitAt: this.minCommitAt,
      maxXid: this.maxXid?.toString() ?? null,
      checksum,
      signature: this.signer.sign(this.headerLine, checksum),
    };
    return { line: `${JSON.stringify({ end })}\n`, end };
  }
}

export interface ReadSegment {
  header: SegmentHeader;
  end: SegmentEnd;
}

/**
 * Reads a segment line by line and proves it whole: its header, every transaction closed, the
 * counts, the checksum and the signature. Anything else is BACKUP_CORRUPT naming the segment.
 * `onEntry` sees each entry as it is read; act on them only once `finish()` has returned.
 */
export class SegmentReader {
  private readonly hash = createHash('sha256');
  private header: SegmentHeader | null = null;
  private headerLine = '';
  private end: SegmentEnd | null = null;
  private inTransaction = false;
  private transactions = 0;
  private changes = 0;

  constructor(
    private readonly name: string,
    private readonly signer: BackupSigner,
    private readonly onEntry: (entry: JournalEntry) => void = () => undefined,
  ) {}

  push(line: string): void {
    if (this.end) this.corrupt('it goes on after its end line');
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.corrupt('a line is not JSON');
    }
    if (!this.header) {
      const header = value as SegmentHeader;
      if (header?.format !== JOURNAL_FORMAT || header.formatVersion !== JOURNAL_FORMAT_VERSION) this.corrupt('it is not a kiln-journal segment of format 1');
      this.header = header;
      this.headerLine = line;
      this.hash.update(`${line}\n`);
      return;
    }
    if (!isObject(value)) this.corrupt('a line is not a JSON object');
    if ('end' in value) {
      this.end = value.end as SegmentEnd;
      return;
    }
    this.hash.update(`${line}\n`);
    const entry = value as JournalEntry;
    if ('begin' in entry) {
      if (this.inTransaction) this.corrupt('a transaction begins inside another');
      this.inTransaction = true;
      this.transactions++;
    } else if ('commit' in entry) {
      if (!this.inTransaction) this.corrupt('a commit without its begin');
      this.inTransaction = false;
    } else if ('relation' in entry) {
      // between transactions or inside one: both are where pgoutput sends them
    } else if ('insert' in entry || 'update' in entry || 'delete' in entry || 'truncate' in entry) {
      if (!this.inTransaction) this.corrupt('a change outside a transaction');
      this.changes++;
    } else {
      this.corrupt('a line of an unknown kind');
    }
    this.onEntry(entry);
  }

  finish(): ReadSegment {
    if (!this.header) this.corrupt('it is empty');
    if (!this.end) this.corrupt('it has no end line (cut short?)');
    if (this.inTransaction) this.corrupt('its last transaction has no commit');
    const checksum = this.hash.digest('hex');
    if (checksum !== this.end.checksum) this.corrupt('its checksum does not match its lines (changed since it was written)');
    if (this.end.transactions !== this.transactions || this.end.changes !== this.changes) this.corrupt('its counts do not match its lines');
    const signature = this.signer.check(this.headerLine, checksum, this.end.signature);
    if (signature !== SignatureCheck.VALID) this.corrupt(`its signature is ${signature.toLowerCase().replace('_', ' ')}`);
    return { header: this.header, end: this.end };
  }

  private corrupt(why: string): never {
    throw new BackupCorruptError(`Journal segment ${this.name} is corrupt: ${why}`);
  }
}

/**
 * Checks that `segments` (each read whole) follow one another: the same chain, sequence numbers
 * one apart, each starting where the one before ended and naming its checksum.
 */
export function assertUnbroken(segments: readonly ReadSegment[]): void {
  for (let i = 1; i < segments.length; i++) {
    const [before, after] = [segments[i - 1], segments[i]];
    const name = `${after.header.chain}#${after.header.sequence}`;
    if (after.header.chain !== before.header.chain) throw new BackupCorruptError(`Journal segment ${name} belongs to another chain than the one before it`);
    if (after.header.sequence !== before.header.sequence + 1) {
      throw new BackupCorruptError(`Journal segment ${name} follows #${before.header.sequence}: segments between them are missing or out of order`);
    }
    if (after.header.previousChecksum !== before.end.checksum || lsnToBigInt(after.header.startLsn) !== lsnToBigInt(before.end.endLsn)) {
      throw new BackupCorruptError(`Journal segment ${name} does not continue #${before.header.sequence} (a segment was replaced or edited)`);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
