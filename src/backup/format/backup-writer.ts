import { createHash, type Hash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { signatureLine, type BackupSigner } from './backup-signature';

export const BACKUP_FORMAT = 'kiln-backup';
export const BACKUP_FORMAT_VERSION = 1;

/** What a backup says about itself; line 1 of the file. */
export interface BackupHeader {
  kilnVersion: string;
  schemaVersion: string;
  /** ISO 8601. */
  createdAt: string;
  /** The tables in the data section, in file order. */
  tables: string[];
  options: Record<string, unknown>;
  backupId?: string;
}

export interface BackupSummary {
  recordCounts: Record<string, number>;
  /** sha256 hex over the data (see {@link BackupChecksum}). */
  checksum: string;
  /** The longest line of the file, in bytes (a row and its separator): what MAX_BACKUP_LINE_BYTES must allow. */
  longestLineBytes: number;
}

// Row writes are the hot path (millions of rows): output is gathered into buffers of this
// many bytes, and checksum text into strings of this many characters, before they reach
// the stream or the hash, so per-row cost stays small.
const BATCH_CHARS = 64 * 1024;
const BATCH_BYTES = 64 * 1024;
// Output goes on in chunks of this size: gzip costs a main-thread round trip per chunk written to
// it (250 MB of rows in 64 KiB chunks: 0.29 s of main thread, in 256 KiB chunks 0.16 s, Node 20).
const OUTPUT_BATCH_BYTES = 256 * 1024;
const FIRST_ROW = Buffer.from('\n');
const NEWLINE = FIRST_ROW;
const NEXT_ROW = Buffer.from(',\n');
// A few batches may wait in the output before a writer call has to wait for the consumer.
const OUTPUT_HIGH_WATER_MARK = 512 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();
const LINE_BREAK = /[\r\n]/;

/**
 * The backup checksum: sha256 over `<table>\n` then `<row>\n` for each row, table by table.
 * The header is left out on purpose (it holds createdAt), so identical data gives an
 * identical checksum. Writer and reader share this class so the definition lives once.
 */
export class BackupChecksum {
  private readonly hash: Hash = createHash('sha256');
  private pending = '';
  // Row bytes gathered here (each followed by a newline) and hashed a batch at a time.
  private readonly staged = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;

  /** Adds a table name or a row text. */
  add(text: string): void {
    this.flushBytes();
    this.pending += text + '\n';
    if (this.pending.length >= BATCH_CHARS) this.flushText();
  }

  /** Adds the first `length` bytes of `line` (a row as UTF-8), then a newline: the same digest as add() of its text. */
  addLine(line: Buffer, length: number): void {
    this.flushText();
    if (this.used + length + 1 > this.staged.length) this.flushBytes();
    if (length + 1 > this.staged.length) {
      this.hash.update(line.subarray(0, length));
      this.hash.update(NEWLINE);
      return;
    }
    this.used += line.copy(this.staged, this.used, 0, length);
    this.staged[this.used++] = 0x0a;
  }

  /** Adds rows as bytes, each followed by a newline: the same digest as add() of each row. */
  addLines(lines: Buffer): void {
    this.flushText();
    this.flushBytes();
    this.hash.update(lines);
  }

  /** Lowercase hex; the checksum cannot be added to afterwards. */
  digest(): string {
    this.flushText();
    this.flushBytes();
    return this.hash.digest('hex');
  }

  private flushText(): void {
    if (this.pending.length === 0) return;
    this.hash.update(this.pending, 'utf8');
    this.pending = '';
  }

  private flushBytes(): void {
    if (this.used === 0) return;
    this.hash.update(this.staged.subarray(0, this.used));
    this.used = 0;
  }
}

type WriterState = 'betweenTables' | 'inTable' | 'finished' | 'aborted';

/**
 * Produces a kiln-backup v1 document as a Readable of Buffers; the caller feeds tables and
 * rows in the order of `header.tables`. Each async method resolves once `output` can take
 * more, so a slow consumer slows the producer and memory stays constant. Misuse (wrong
 * order, a row that would break the line layout, calls after finish) throws synchronously.
 */
export class BackupWriter {
  /** The bytes of the document; pipe it on (compression, storage) while writing. */
  readonly output: Readable;
  private readonly stream: PassThrough;
  private readonly tables: readonly string[];
  private readonly counts = new Map<string, number>();
  private readonly checksum = new BackupChecksum();
  private state: WriterState = 'betweenTables';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private tableIndex = 0;
  private rowsInTable = 0;
  private longestRow = 0;
  private readonly headerLine: string;

  /** With a signer, the footer ends with a signature line (see {@link BackupSigner}). */
  constructor(
    header: BackupHeader,
    private readonly signer?: BackupSigner,
  ) {
    this.tables = [...header.tables];
    if (new Set(this.tables).size !== this.tables.length) {
      throw new Error(`BackupWriter: header.tables lists a table twice: ${JSON.stringify(this.tables)}`);
    }
    this.stream = new PassThrough({ highWaterMark: OUTPUT_HIGH_WATER_MARK });
    this.output = this.stream;
    this.headerLine = `{"format":${JSON.stringify(BACKUP_FORMAT)},"formatVersion":${BACKUP_FORMAT_VERSION},"header":${JSON.stringify(header)},`;
    this.append(`${this.headerLine}\n"data":{`);
  }

  /** Opens the next table; its name must be the next one in `header.tables`. */
  beginTable(name: string): Promise<void> {
    this.expectState('betweenTables', 'beginTable');
    const expected = this.tables[this.tableIndex];
    if (name !== expected) {
      throw new Error(
        `BackupWriter.beginTable(${JSON.stringify(name)}): expected ` +
          (expected === undefined ? 'finish(): every table in header.tables is written' : JSON.stringify(expected)),
      );
    }
    // Separators go before an item, not after it: the writer cannot know which item is last.
    this.append((this.tableIndex === 0 ? '\n' : ',\n') + JSON.stringify(name) + ':[');
    this.checksum.add(name);
    this.state = 'inTable';
    this.rowsInTable = 0;
    return this.flushIfFull();
  }

  /**
   * Appends one row: a JSON object's text exactly as PostgreSQL produced it (never
   * re-serialised, so numerics stay exact). It must be one line and start and end with braces.
   */
  writeRow(json: string): Promise<void> {
    if (this.state !== 'inTable') this.expectState('inTable', 'writeRow');
    // A full parse would cost more than the export itself; the reader parses every row.
    if (json.charCodeAt(0) !== 0x7b || json.charCodeAt(json.length - 1) !== 0x7d || LINE_BREAK.test(json)) {
      throw new Error(
        `BackupWriter.writeRow: a row must be one JSON object on one line, got ${JSON.stringify(json.slice(0, 80))}`,
      );
    }
    return this.writeLines(Buffer.from(json + '\n')).then(() => undefined);
  }

  /**
   * Appends rows given as bytes, each a JSON object followed by a newline (as COPY sends
   * them, unescaped), and resolves with their number: the export's path, with no decoding.
   */
  writeLines(lines: Buffer): Promise<number> {
    if (this.state !== 'inTable') this.expectState('inTable', 'writeLines');
    // Checked before anything is appended, so a bad row leaves the writer as it was.
    const rows: Buffer[] = [];
    if (lines.length > 0 && (lines[lines.length - 1] !== 0x0a || lines.indexOf(0x0d) !== -1)) throw badRow(lines);
    for (let start = 0, end = lines.indexOf(0x0a); end !== -1; start = end + 1, end = lines.indexOf(0x0a, start)) {
      if (lines[start] !== 0x7b || lines[end - 1] !== 0x7d) throw badRow(lines.subarray(start, end));
      rows.push(lines.subarray(start, end));
    }
    for (const row of rows) {
      if (row.length > this.longestRow) this.longestRow = row.length;
      this.append(this.rowsInTable++ === 0 ? FIRST_ROW : NEXT_ROW);
      this.append(row);
    }
    this.checksum.addLines(lines);
    return this.flushIfFull().then(() => rows.length);
  }

  /** Closes the open table. */
  endTable(): Promise<void> {
    this.expectState('inTable', 'endTable');
    this.append('\n]');
    this.counts.set(this.tables[this.tableIndex], this.rowsInTable);
    this.tableIndex++;
    this.state = 'betweenTables';
    return this.flushIfFull();
  }

  /** Writes the footer and ends `output`; resolves once output has accepted the last bytes. */
  finish(): Promise<BackupSummary> {
    this.expectState('betweenTables', 'finish');
    if (this.tableIndex < this.tables.length) {
      throw new Error(`BackupWriter.finish: table ${JSON.stringify(this.tables[this.tableIndex])} was never written`);
    }
    // fromEntries defines own properties, so even a table named "__proto__" is counted.
    const recordCounts: Record<string, number> = Object.fromEntries(this.counts);
    const checksum = this.checksum.digest();
    // A row's line ends with the comma before the next row; the header line is the other long one.
    const longestLineBytes = Math.max(this.longestRow + 1, Buffer.byteLength(this.headerLine));
    const footer =
      `\n},\n"recordCounts":${JSON.stringify(recordCounts)},\n` +
      `"checksum":{"algorithm":"sha256","value":"${checksum}"}` +
      (this.signer ? `,\n${signatureLine(this.signer.sign(this.headerLine, checksum))}\n` : '}\n');
    this.append(footer);
    const bytes = this.take();
    this.state = 'finished';
    if (this.stream.destroyed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      const onFinish = (): void => {
        this.stream.off('close', onClose);
        resolve({ recordCounts, checksum, longestLineBytes });
      };
      const onClose = (): void => {
        this.stream.off('finish', onFinish);
        reject(this.closedError());
      };
      this.stream.once('finish', onFinish);
      this.stream.once('close', onClose);
      this.stream.end(bytes);
    });
  }

  /** Stops the backup: `output` is destroyed with `err`, so its consumers see the failure. */
  abort(err: Error): void {
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    this.pending = [];
    this.pendingBytes = 0;
    this.stream.destroy(err);
  }

  private append(bytes: Buffer | string): void {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    this.pending.push(buffer);
    this.pendingBytes += buffer.length;
  }

  private take(): Buffer {
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return bytes;
  }

  private flushIfFull(): Promise<void> {
    if (this.pendingBytes < OUTPUT_BATCH_BYTES) return RESOLVED;
    const bytes = this.take();
    if (this.stream.destroyed) return Promise.reject(this.closedError());
    if (this.stream.write(bytes)) return RESOLVED;
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.stream.off('close', onClose);
        resolve();
      };
      // A destroyed stream never drains: without this the producer would hang forever.
      const onClose = (): void => {
        this.stream.off('drain', onDrain);
        reject(this.closedError());
      };
      this.stream.once('drain', onDrain);
      this.stream.once('close', onClose);
    });
  }

  private closedError(): Error {
    return this.stream.errored ?? new Error('BackupWriter: output was closed before the backup was finished');
  }

  private expectState(state: WriterState, method: string): void {
    if (this.state === state) return;
    const why: Record<WriterState, string> = {
      betweenTables: 'no table is open (call beginTable first)',
      inTable: `table ${JSON.stringify(this.tables[this.tableIndex])} is still open (call endTable first)`,
      finished: 'the backup is already finished',
      aborted: 'the backup was aborted',
    };
    throw new Error(`BackupWriter.${method}: ${why[this.state]}`);
  }
}

function badRow(row: Buffer): Error {
  const text = row.toString('utf8', 0, Math.min(row.length, 80));
  return new Error(`BackupWriter.writeRow: a row must be one JSON object on one line, got ${JSON.stringify(text)}`);
}
