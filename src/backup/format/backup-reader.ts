import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { readAppBackup } from './app-backup-reader';
import { SIGNATURE_LINE, type BackupSignature } from './backup-signature';
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, BackupChecksum, type BackupHeader } from './backup-writer';
import { decompressIfGzip, GzipExpansionError } from './compression';

export type BackupEvent =
  /** `format`: Kiln's own layout, or the lending app's format 1.0 (read by {@link readAppBackup}). */
  | { kind: 'header'; header: BackupHeader; formatVersion: number; format?: 'kiln-backup' | 'app-1.0' }
  | { kind: 'table'; name: string }
  /** `json` is the row text exactly as written (already checked to be a JSON object). */
  | { kind: 'row'; table: string; json: string; value: Record<string, unknown>; parsed: boolean }
  | { kind: 'tableEnd'; name: string; rows: number }
  /**
   * The checksum is reported, not judged: the caller decides what a mismatch means. So is the
   * signature (absent from unsigned files), with the header line it covers (see BackupSigner).
   */
  | { kind: 'end'; recordCounts: Record<string, number>; checksum: string; computedChecksum: string; headerLine?: string; signature?: BackupSignature };

/** The file is not a well-formed kiln-backup v1 document (nor app format 1.0 backup); `line` is 1-based. */
export class BackupFormatError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    options?: ErrorOptions,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`, options);
    this.name = 'BackupFormatError';
  }
}

/**
 * The file went past one of the reader's bounds (a {@link ReadBackupOptions} limit, named by
 * `limit`): a genuine file this large needs the limit raised, a bomb is refused here.
 */
export class BackupLimitError extends BackupFormatError {
  constructor(
    message: string,
    readonly limit: keyof BackupReadLimits,
    line?: number,
  ) {
    super(message, line);
    this.name = 'BackupLimitError';
  }
}

/** The bounds every read of a backup keeps to (config: MAX_BACKUP_LINE_BYTES, MAX_GZIP_EXPANSION). */
export interface BackupReadLimits {
  /**
   * Longest line accepted, in bytes; a longer one fails instead of filling memory. For an app
   * format 1.0 backup: the largest metadata or row accepted.
   */
  maxLineBytes?: number;
  /** Most plain bytes per compressed byte a gzip file may expand to (see decompressIfGzip). */
  maxGzipExpansion?: number;
}

/**
 * Kiln's rows are a few KB (the largest in 2,000 members' demo data: 2.5 KB; documents are URLs,
 * not contents), so 16 MiB leaves room for any real row while one line costs at most a few
 * hundred ms of parsing. Real lending data gzips 7- to 14-fold; runs of whitespace 1000-fold.
 */
export const DEFAULT_READ_LIMITS: Readonly<Required<BackupReadLimits>> = Object.freeze({
  maxLineBytes: 16 * 1024 * 1024,
  maxGzipExpansion: 100,
});

/** Limits left out take {@link DEFAULT_READ_LIMITS}. */
export interface ReadBackupOptions extends BackupReadLimits {
  /**
   * false: rows are not parsed (their `value` is an empty object), only checked to be `{…}`:
   * for a second pass over a file a first pass has checked, whose checksum the caller compares.
   * 'firstOfEachTable': only each table's first row is parsed, for a file the caller will hold to
   * a checksum recorded when Kiln wrote it (row_to_json gives every row of a table the same keys).
   */
  parseRows?: boolean | 'firstOfEachTable';
}

const UNPARSED: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

const NEWLINE = 0x0a;
/**
 * Plain bytes read between two turns of the event loop. Each chunk's lines are parsed at once,
 * which starves timers and sockets (/health) when chunks arrive without waiting for I/O;
 * a turn per MiB did not measurably slow reading a 23 MB backup.
 */
const TURN_BYTES = 1024 * 1024;

/** Splits Buffer chunks into lines itself, because readline cannot bound a line's length. */
export class LineSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private completed = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The bytes of each line push() last returned, in the same order (views of the chunk, valid until the next push). */
  readonly lineBytes: Buffer[] = [];

  /** The complete lines in `chunk` (without their newline), decoded as UTF-8; their bytes in {@link lineBytes}. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    this.lineBytes.length = 0;
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.checkLength(this.partialBytes + nl - start);
      if (this.partialBytes === 0) {
        lines.push(chunk.toString('utf8', start, nl));
        this.lineBytes.push(chunk.subarray(start, nl));
      } else {
        // Decoding whole lines only: a UTF-8 character split across chunks stays intact.
        this.partial.push(chunk.subarray(start, nl));
        const bytes = Buffer.concat(this.partial, this.partialBytes + nl - start);
        lines.push(bytes.toString('utf8'));
        this.lineBytes.push(bytes);
        this.partial = [];
        this.partialBytes = 0;
      }
      this.completed++;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.checkLength(this.partialBytes + chunk.length - start);
      // A copy, so a short tail does not pin a large chunk in memory.
      this.partial.push(Buffer.from(chunk.subarray(start)));
      this.partialBytes += chunk.length - start;
    }
    return lines;
  }

  /** True when the input stopped in the middle of a line. */
  get hasPartialLine(): boolean {
    return this.partialBytes > 0;
  }

  private checkLength(bytes: number): void {
    if (bytes <= this.maxLineBytes) return;
    const line = this.completed + 1;
    const hint = line === 1 ? ' (not a kiln-backup file?)' : '';
    throw new BackupLimitError(`line is longer than the ${this.maxLineBytes}-byte limit${hint}`, 'maxLineBytes', line);
  }
}

type Expecting = 'header' | 'data' | 'firstTable' | 'nextTable' | 'dataEnd' | 'firstRow' | 'nextRow' | 'tableClose' | 'counts' | 'checksum' | 'signature' | 'eof';

const EXPECTED: Record<Expecting, string> = {
  header: `the header line {"format":"${BACKUP_FORMAT}","formatVersion":…,"header":{…},`,
  data: '"data":{',
  firstTable: 'a table line "<name>":[ or the end of data },',
  nextTable: 'a table line "<name>":[',
  dataEnd: 'the end of data },',
  firstRow: 'a row (a JSON object) or the end of the table ] / ],',
  nextRow: 'a row (a JSON object)',
  tableClose: 'the end of the table ] / ],',
  counts: '"recordCounts":{…},',
  checksum: '"checksum":{"algorithm":"sha256","value":"<64 hex digits>"}} (or }, and a signature line)',
  signature: '"signature":{"algorithm":"hmac-sha256","keyId":"<16 hex digits>","value":"<64 hex digits>"}}',
  eof: 'the end of the file',
};

// Ends `}}` in an unsigned file, `},` when a signature line follows.
const CHECKSUM_LINE = /^"checksum":\{"algorithm":"sha256","value":"([0-9a-f]{64})"\}([},])$/;
const COUNTS_PREFIX = '"recordCounts":';

/**
 * Follows the fixed line layout one line at a time; each line yields at most one event.
 * Anything off the layout throws a BackupFormatError naming the line and what was expected.
 */
class LayoutParser {
  private expecting: Expecting = 'header';
  private line = 0;
  private tables: string[] = [];
  private readonly rowsByTable = new Map<string, number>();
  private table = '';
  private rows = 0;
  private readonly checksum = new BackupChecksum();
  private fileChecksum = '';
  private headerLine = '';
  private signature: BackupSignature | undefined;
  private recordCounts: Record<string, number> = {};

  constructor(private readonly parseRows: boolean | 'firstOfEachTable' = true) {}

  next(text: string, bytes: Buffer): BackupEvent | undefined {
    this.line++;
    switch (this.expecting) {
      case 'nextRow':
        return this.row(text, bytes);
      case 'firstRow':
      case 'tableClose':
        if (text === ']' || text === '],') return this.tableEnd(text);
        if (this.expecting === 'firstRow') return this.row(text, bytes);
        break;
      case 'header':
        return this.header(text);
      case 'data':
        if (text !== '"data":{') break;
        this.expecting = 'firstTable';
        return undefined;
      case 'firstTable':
      case 'dataEnd':
        if (text === '},') return this.dataEnd();
        if (this.expecting === 'firstTable') return this.tableStart(text);
        break;
      case 'nextTable':
        return this.tableStart(text);
      case 'counts':
        return this.counts(text);
      case 'checksum': {
        const match = CHECKSUM_LINE.exec(text);
        if (!match) break;
        this.fileChecksum = match[1];
        this.expecting = match[2] === ',' ? 'signature' : 'eof';
        return undefined;
      }
      case 'signature': {
        const match = SIGNATURE_LINE.exec(text);
        if (!match) break;
        this.signature = { algorithm: 'hmac-sha256', keyId: match[1], value: match[2] };
        this.expecting = 'eof';
        return undefined;
      }
      case 'eof':
        throw this.error('unexpected content after the checksum footer (trailing garbage)');
    }
    throw this.unexpected(text);
  }

  /** Called when input ends; throws unless the footer was complete. */
  end(hasPartialLine: boolean): BackupEvent {
    if (this.line === 0 && !hasPartialLine) throw new BackupFormatError('the backup is empty (0 bytes)');
    if (this.expecting === 'eof' && hasPartialLine) {
      throw new BackupFormatError('unexpected content after the checksum footer (trailing garbage)', this.line + 1);
    }
    if (hasPartialLine) {
      throw new BackupFormatError(`the file ends in the middle of this line (truncated?); expected ${EXPECTED[this.expecting]}`, this.line + 1);
    }
    if (this.expecting !== 'eof') {
      throw new BackupFormatError(`the file ends here (truncated?); expected ${EXPECTED[this.expecting]}`, this.line + 1);
    }
    const computedChecksum = this.checksum.digest();
    return {
      kind: 'end',
      recordCounts: this.recordCounts,
      checksum: this.fileChecksum,
      computedChecksum,
      headerLine: this.headerLine,
      signature: this.signature,
    };
  }

  private header(text: string): BackupEvent {
    let parsed: unknown;
    try {
      // Line 1 is an object's start cut after the header: closing it makes it parseable.
      parsed = text.endsWith(',') ? JSON.parse(text.slice(0, -1) + '}') : undefined;
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed) || parsed.format !== BACKUP_FORMAT) {
      throw this.error(`not a ${BACKUP_FORMAT} file, nor an app format 1.0 backup (or its line layout was changed, e.g. by reformatting)`);
    }
    if (parsed.formatVersion !== BACKUP_FORMAT_VERSION) {
      throw this.error(`unsupported formatVersion ${JSON.stringify(parsed.formatVersion)}: this Kiln reads version ${BACKUP_FORMAT_VERSION}`);
    }
    if (Object.keys(parsed).join() !== 'format,formatVersion,header') {
      throw this.error(`expected exactly the keys format, formatVersion, header, found ${Object.keys(parsed).join(', ')}`);
    }
    const header = parsed.header;
    const problem = headerProblem(header);
    if (problem) throw this.error(`invalid header: ${problem}`);
    this.tables = [...(header as BackupHeader).tables];
    this.headerLine = text;
    this.expecting = 'data';
    return { kind: 'header', header: header as BackupHeader, formatVersion: BACKUP_FORMAT_VERSION, format: BACKUP_FORMAT };
  }

  private tableStart(text: string): BackupEvent {
    let name: unknown;
    try {
      name = text.endsWith(':[') ? JSON.parse(text.slice(0, -2)) : undefined;
    } catch {
      name = undefined;
    }
    if (typeof name !== 'string') throw this.unexpected(text);
    const expected = this.tables[this.rowsByTable.size];
    if (name !== expected) {
      throw this.error(`found table ${JSON.stringify(name)} but header.tables lists ${expected === undefined ? 'no more tables' : JSON.stringify(expected)} next`);
    }
    this.table = name;
    this.rows = 0;
    this.checksum.add(name);
    this.expecting = 'firstRow';
    return { kind: 'table', name };
  }

  private row(text: string, bytes: Buffer): BackupEvent {
    const comma = text.charCodeAt(text.length - 1) === 0x2c;
    const json = comma ? text.slice(0, -1) : text;
    let valid = json.charCodeAt(0) === 0x7b && json.charCodeAt(json.length - 1) === 0x7d;
    let value: Record<string, unknown> = UNPARSED;
    if (valid && (this.parseRows === true || (this.parseRows === 'firstOfEachTable' && this.rows === 0))) {
      try {
        // Also fails (RangeError) on absurdly deep nesting: that is a bad row too.
        value = JSON.parse(json) as Record<string, unknown>;
      } catch {
        valid = false;
      }
    }
    if (!valid) throw this.error(`expected ${EXPECTED[this.expecting]}, found ${preview(text)}`);
    this.rows++;
    // The line's bytes, not the decoded text: encoding a million rows again for the hash costs seconds.
    this.checksum.addLine(bytes, comma ? bytes.length - 1 : bytes.length);
    this.expecting = comma ? 'nextRow' : 'tableClose';
    return { kind: 'row', table: this.table, json, value, parsed: value !== UNPARSED };
  }

  private tableEnd(text: string): BackupEvent {
    this.rowsByTable.set(this.table, this.rows);
    this.expecting = text === '],' ? 'nextTable' : 'dataEnd';
    return { kind: 'tableEnd', name: this.table, rows: this.rows };
  }

  private dataEnd(): undefined {
    const missing = this.tables[this.rowsByTable.size];
    if (missing !== undefined) throw this.error(`the data ends but header.tables also lists ${JSON.stringify(missing)}`);
    this.expecting = 'counts';
    return undefined;
  }

  private counts(text: string): undefined {
    let counts: unknown;
    try {
      counts = text.startsWith(COUNTS_PREFIX) && text.endsWith(',') ? JSON.parse(text.slice(COUNTS_PREFIX.length, -1)) : undefined;
    } catch {
      counts = undefined;
    }
    if (!isObject(counts)) throw this.unexpected(text);
    for (const [table, rows] of this.rowsByTable) {
      const stated = Object.hasOwn(counts, table) ? counts[table] : undefined;
      if (stated !== rows) {
        throw this.error(`recordCounts says ${JSON.stringify(table)} has ${JSON.stringify(stated)} rows but the file holds ${rows}`);
      }
    }
    const extra = Object.keys(counts).find((table) => !this.rowsByTable.has(table));
    if (extra !== undefined) throw this.error(`recordCounts names ${JSON.stringify(extra)}, which is not in the data`);
    this.recordCounts = counts as Record<string, number>;
    this.expecting = 'checksum';
    return undefined;
  }

  private unexpected(text: string): BackupFormatError {
    return this.error(`expected ${EXPECTED[this.expecting]}, found ${preview(text)}`);
  }

  private error(message: string): BackupFormatError {
    return new BackupFormatError(message, this.line);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function headerProblem(header: unknown): string | undefined {
  if (!isObject(header)) return 'not an object';
  for (const key of ['kilnVersion', 'schemaVersion', 'createdAt'] as const) {
    if (typeof header[key] !== 'string') return `${key} must be a string`;
  }
  if (header.backupId !== undefined && typeof header.backupId !== 'string') return 'backupId must be a string';
  if (!isObject(header.options)) return 'options must be an object';
  const tables = header.tables;
  if (!Array.isArray(tables) || !tables.every((t) => typeof t === 'string')) return 'tables must be an array of strings';
  if (new Set(tables).size !== tables.length) return 'tables lists a table twice';
  return undefined;
}

function preview(text: string): string {
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 80))}…` : JSON.stringify(text);
}

/** How far into the plain bytes the format is looked for (only whitespace could make it that far). */
const DETECT_LIMIT_BYTES = 4096;
// The app's files start `{ "metadata"`; one whose data comes first is still the app's (and told so).
const APP_FORMAT_STARTS = [Buffer.from('"metadata"'), Buffer.from('"data"')];

function skipJsonSpace(bytes: Buffer, i: number): number {
  for (let c = bytes[i]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = bytes[++i]);
  return i;
}

/**
 * 'app' when the first tokens are `{` then `"metadata"` (the lending app's format 1.0), 'kiln'
 * for anything else (Kiln's layout starts `{"format":`; its parser reports what else it is),
 * undefined while `head` is too short to tell.
 */
function detectFormat(head: Buffer, complete: boolean): 'kiln' | 'app' | undefined {
  const undecided = complete || head.length >= DETECT_LIMIT_BYTES ? 'kiln' : undefined;
  let i = skipJsonSpace(head, 0);
  if (i >= head.length) return undecided;
  if (head[i] !== 0x7b) return 'kiln';
  i = skipJsonSpace(head, i + 1);
  if (i >= head.length) return undecided;
  let partial = false;
  for (const start of APP_FORMAT_STARTS) {
    const available = Math.min(start.length, head.length - i);
    if (!head.subarray(i, i + available).equals(start.subarray(0, available))) continue;
    if (available === start.length) return 'app';
    partial = true;
  }
  return partial ? undecided : 'kiln';
}

/** The chunks already read, then the rest, with a turn of the event loop every TURN_BYTES; stopping early releases the input. */
async function* prefixed(head: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  let sinceTurn = 0;
  try {
    yield* head;
    for (let next = await rest.next(); !next.done; next = await rest.next()) {
      yield next.value;
      sinceTurn += next.value.length;
      if (sinceTurn >= TURN_BYTES) {
        sinceTurn = 0;
        await nextTurn();
      }
    }
  } finally {
    await rest.return?.();
  }
}

async function* readKilnBackup(chunks: AsyncIterable<Buffer>, options: ReadBackupOptions): AsyncGenerator<BackupEvent> {
  const splitter = new LineSplitter(options.maxLineBytes ?? DEFAULT_READ_LIMITS.maxLineBytes);
  const parser = new LayoutParser(options.parseRows ?? true);
  for await (const chunk of chunks) {
    const lines = splitter.push(chunk);
    const bytes = [...splitter.lineBytes];
    for (let i = 0; i < lines.length; i++) {
      const event = parser.next(lines[i], bytes[i]);
      if (event) yield event;
    }
  }
  yield parser.end(splitter.hasPartialLine);
}

/**
 * Reads a backup (plain or gzip, detected by content) in constant memory, strictly: any
 * deviation from the kiln-backup v1 layout throws a {@link BackupFormatError}. Events come
 * as the file is read, so a consumer may already have acted on rows when an error arrives.
 * The lending app's own backups (format 1.0, recognised by their first bytes) are read by
 * {@link readAppBackup} into the same events; `parseRows` does not apply to them (rows are always parsed).
 */
export async function* readBackup(input: Readable, options: ReadBackupOptions = {}): AsyncGenerator<BackupEvent> {
  try {
    const maxExpansion = options.maxGzipExpansion ?? DEFAULT_READ_LIMITS.maxGzipExpansion;
    const chunks = decompressIfGzip(input, { maxExpansion })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let format: 'kiln' | 'app' | undefined;
    while (format === undefined) {
      const next = await chunks.next();
      if (!next.done) head.push(next.value);
      format = detectFormat(head.length === 1 ? head[0] : Buffer.concat(head), next.done === true);
    }
    const rest = prefixed(head, chunks);
    if (format === 'app') yield* readAppBackup(rest, { maxValueBytes: options.maxLineBytes ?? DEFAULT_READ_LIMITS.maxLineBytes });
    else yield* readKilnBackup(rest, options);
  } catch (err) {
    if (err instanceof GzipExpansionError) throw new BackupLimitError(err.message, 'maxGzipExpansion');
    // zlib errors carry Z_* codes; storage errors (ENOENT, network) pass through unchanged.
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new BackupFormatError(`the gzip data is corrupt or truncated (${(err as Error).message})`, undefined, { cause: err });
    }
    throw err;
  }
}

/** Drains a backup, checking its layout, and returns what its footer and data say. */
export async function summarizeBackup(
  input: Readable,
  options?: ReadBackupOptions,
): Promise<{ header: BackupHeader; recordCounts: Record<string, number>; checksum: string; computedChecksum: string }> {
  let header: BackupHeader | undefined;
  for await (const event of readBackup(input, options)) {
    if (event.kind === 'header') header = event.header;
    if (event.kind === 'end' && header) {
      return { header, recordCounts: event.recordCounts, checksum: event.checksum, computedChecksum: event.computedChecksum };
    }
  }
  throw new BackupFormatError('the backup ended without a footer');
}
