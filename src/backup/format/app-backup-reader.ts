import { createHash, type Hash } from 'node:crypto';
import { TokenParser, TokenType, Tokenizer, type ParsedElementInfo, type ParsedTokenInfo } from '@streamparser/json';
import { BackupFormatError, BackupLimitError, DEFAULT_READ_LIMITS, type BackupEvent } from './backup-reader';
import type { BackupHeader } from './backup-writer';
import { APP_DATA_KEYS } from '../records/app-conventions';

// The lending app's own backup files ("format 1.0", see shared/reference/README.md):
// `JSON.stringify({ metadata, data }, null, 2)`; APP_DATA_KEYS names each data key's table.
export { APP_DATA_KEYS };

export const APP_FORMAT_VERSION = '1.0';
export const APP_SCHEMA_VERSION = 'app-format-1.0';

/** Data keys the app always writes but leaves empty when the admin did not ask for them. */
const OPTIONAL_KEYS: Readonly<Record<string, 'includeAuditLogs' | 'includeSessions'>> = Object.freeze({
  auditLogs: 'includeAuditLogs',
  staffSessions: 'includeSessions',
});

const METADATA_KEYS = new Set(['version', 'createdAt', 'systemVersion', 'recordCounts', 'checksum']);
const CHECKSUM = /^[0-9a-f]{64}$/;
/** Input is handed to the tokenizer in slices of at most this many bytes, so the event queue stays short. */
const SLICE_BYTES = 64 * 1024;
/** Hash input is gathered into strings of about this many characters before it reaches the hash. */
const HASH_BATCH_CHARS = 64 * 1024;

// Read once: the package's CommonJS index re-exports TokenType through a getter, too slow per token.
const { LEFT_BRACE, RIGHT_BRACE, LEFT_BRACKET, RIGHT_BRACKET, COMMA, STRING, NUMBER, TRUE, FALSE, NULL } = TokenType;

/** The table a data key holds; a key the app does not write is passed through under its own name. */
function tableOf(key: string): string {
  return Object.hasOwn(APP_DATA_KEYS, key) ? APP_DATA_KEYS[key as keyof typeof APP_DATA_KEYS] : key;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`;
}

/** sha256 over text given in pieces; small pieces are batched (one update per row costs seconds on millions). */
export class BatchedHash {
  private readonly hash: Hash = createHash('sha256');
  private pending = '';

  add(text: string): void {
    this.pending += text;
    if (this.pending.length >= HASH_BATCH_CHARS) {
      this.hash.update(this.pending, 'utf8');
      this.pending = '';
    }
  }

  digest(): string {
    this.hash.update(this.pending, 'utf8');
    this.pending = '';
    return this.hash.digest('hex');
  }
}

interface DataKey {
  key: string;
  table: string;
  count: number;
  /** false for auditLogs/staffSessions with no rows: "not included", so no events for them. */
  included: boolean;
}

/**
 * Checks the document's shape from the token stream (the library's TokenParser assembles
 * only metadata and rows, and drops each row once reported: memory stays flat) and
 * hashes it the way the app does, incrementally:
 *
 *   sha256(`{"metadata":` + JSON.stringify(metadata without checksum) + `,"data":{` +
 *          `"<key>":[` + rows as JSON.stringify, joined by "," + `]`, joined by "," + `}}`)
 *
 * which is the app's `JSON.stringify({ metadata, data })`: JSON.stringify of JSON.parse of
 * JSON.stringify output gives the same text back (numbers in shortest form, strings with the
 * same escapes, integer-like keys first in both).
 */
class AppFormatParser {
  private readonly tokenizer = keepByteOrderMarks(new Tokenizer());
  private readonly parser = new TokenParser({ paths: ['$.metadata', '$.data.*.*'], keepStack: false });
  private readonly hash = new BatchedHash();
  /** Events found and not yet taken by the caller. */
  readonly events: BackupEvent[] = [];
  /**
   * Offset of the last token outside metadata and rows: the parser holds everything read
   * since (a row or metadata being assembled, a string or number being tokenized).
   */
  quietOffset = 0;

  private depth = 0;
  /** Top-level keys seen so far ("metadata", then "data"). */
  private topKeys = 0;
  private topKey = '';
  private expectTopKey = false;
  private inData = false;
  private expectDataKey = false;
  private keys: DataKey[] = [];
  private checksum = '';
  private metadataSeen = false;
  /** Index in `keys` of the data key being read. */
  private index = 0;
  private current: DataKey | undefined;
  private rows = 0;
  private rootClosed = false;

  constructor() {
    // Shape checks run after the TokenParser took the token, so malformed JSON is reported as such.
    this.tokenizer.onToken = (token) => {
      if (this.rootClosed) throw new BackupFormatError('unexpected content after the end of the JSON document (trailing garbage)');
      this.parser.write(token);
      this.token(token);
      if (!this.assembling()) this.quietOffset = token.offset;
    };
    this.parser.onValue = (info) => this.value(info);
    this.parser.onError = (err) => {
      throw err;
    };
    this.tokenizer.onError = (err) => {
      throw err;
    };
    this.parser.onEnd = () => undefined;
    this.tokenizer.onEnd = () => undefined;
  }

  write(bytes: Buffer): void {
    this.guard(() => this.tokenizer.write(bytes));
  }

  /** Called when the input ends: the `end` event, or a BackupFormatError if the document is incomplete. */
  end(bytes: number): BackupEvent {
    if (bytes === 0) throw new BackupFormatError('the backup is empty (0 bytes)');
    const truncated = () => `the file ends before the JSON document is complete (truncated?), ${this.where()}`;
    try {
      // Flushes a number the input ended on; fails when it ended inside a token.
      this.tokenizer.end();
    } catch (err) {
      if (err instanceof BackupFormatError) throw err;
      if (this.rootClosed) throw new BackupFormatError('unexpected content after the end of the JSON document (trailing garbage)', undefined, { cause: err });
      throw new BackupFormatError(truncated(), undefined, { cause: err });
    }
    if (!this.rootClosed) throw new BackupFormatError(truncated());
    const recordCounts: Record<string, number> = {};
    for (const key of this.keys) if (key.included) recordCounts[key.table] = key.count;
    return { kind: 'end', recordCounts, checksum: this.checksum, computedChecksum: this.hash.digest() };
  }

  /** Library errors (bad JSON, bad UTF-8) become BackupFormatErrors; ours pass through. */
  private guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      if (err instanceof BackupFormatError) throw err;
      if (this.rootClosed) throw new BackupFormatError('unexpected content after the end of the JSON document (trailing garbage)', undefined, { cause: err });
      throw new BackupFormatError(`invalid JSON (${err instanceof Error ? err.message : String(err)}), ${this.where()}`, undefined, { cause: err });
    }
  }

  /** True inside metadata's value or a row (depth: 1 root, 2 data, 3 a data array, 4 a row). */
  private assembling(): boolean {
    return this.inData ? this.depth >= 4 : this.depth >= 2 && this.topKey === 'metadata';
  }

  /** Where reading is, for messages. */
  where(): string {
    if (!this.metadataSeen) return 'in or before metadata';
    if (this.current) return `in data.${this.current.key} after ${this.rows} row(s)`;
    if (this.inData) return `in data after ${this.index} of ${this.keys.length} key(s)`;
    return 'after metadata';
  }

  private token(token: ParsedTokenInfo): void {
    switch (token.token) {
      case LEFT_BRACE:
      case LEFT_BRACKET:
        this.open(token.token === LEFT_BRACE);
        return;
      case RIGHT_BRACE:
      case RIGHT_BRACKET:
        this.close();
        return;
      case COMMA:
        if (this.depth === 1) this.expectTopKey = true;
        else if (this.depth === 2 && this.inData) this.expectDataKey = true;
        return;
      case STRING:
        if (this.depth === 1 && this.expectTopKey) return this.topLevelKey(token.value as string);
        if (this.depth === 2 && this.inData && this.expectDataKey) return this.dataKey(token.value as string);
        return this.scalar(token.value);
      case NUMBER:
      case TRUE:
      case FALSE:
      case NULL:
        return this.scalar(token.value);
      default:
        return;
    }
  }

  /** A string, number, true, false or null that is a value (not a key). */
  private scalar(value: unknown): void {
    if (this.depth === 0) throw new BackupFormatError(`the document is ${describeValue(value)}, not a JSON object {"metadata":…,"data":…}`);
    // A scalar metadata is reported by value(); one at depth 3+ is inside metadata or a row.
    if (this.depth === 1 && this.topKey === 'data') throw new BackupFormatError(`data must be a JSON object, found ${describeValue(value)}`);
    if (this.depth === 2 && this.inData) throw new BackupFormatError(`data.${this.current?.key ?? '?'} must be an array, found ${describeValue(value)}`);
  }

  private open(brace: boolean): void {
    if (this.depth === 0) {
      if (!brace) throw new BackupFormatError('the document is an array, not a JSON object {"metadata":…,"data":…}');
      this.expectTopKey = true;
    } else if (this.depth === 1 && this.topKey === 'data') {
      if (!brace) throw new BackupFormatError('data must be a JSON object, found an array');
      this.inData = true;
      this.expectDataKey = true;
      this.hash.add(',"data":{');
    } else if (this.depth === 2 && this.inData) {
      const key = this.current!;
      if (brace) throw new BackupFormatError(`data.${key.key} must be an array, found an object`);
      this.hash.add(`${this.index === 0 ? '' : ','}${JSON.stringify(key.key)}:[`);
      this.rows = 0;
      if (key.included) this.events.push({ kind: 'table', name: key.table });
    }
    this.depth++;
  }

  private close(): void {
    this.depth--;
    if (this.depth === 2 && this.inData) {
      const key = this.current!;
      if (this.rows !== key.count) {
        throw new BackupFormatError(`metadata.recordCounts says ${JSON.stringify(key.key)} has ${key.count} rows but data.${key.key} holds ${this.rows}`);
      }
      this.hash.add(']');
      if (key.included) this.events.push({ kind: 'tableEnd', name: key.table, rows: this.rows });
      this.current = undefined;
      this.index++;
    } else if (this.depth === 1 && this.inData) {
      const missing = this.keys[this.index];
      if (missing) throw new BackupFormatError(`data lacks ${JSON.stringify(missing.key)}, which metadata.recordCounts lists`);
      this.inData = false;
      this.hash.add('}');
    } else if (this.depth === 0) {
      if (this.topKeys === 0) throw new BackupFormatError('the document has no metadata');
      if (this.topKeys === 1) throw new BackupFormatError('the document has no data');
      this.hash.add('}');
      this.rootClosed = true;
    }
  }

  private topLevelKey(key: string): void {
    this.expectTopKey = false;
    const expected = this.topKeys === 0 ? 'metadata' : this.topKeys === 1 ? 'data' : undefined;
    if (key !== expected) {
      if (key === 'data' && this.topKeys === 0) throw new BackupFormatError('data comes before metadata: metadata must come first');
      if (key === 'metadata' || key === 'data') throw new BackupFormatError(`the document holds ${JSON.stringify(key)} twice`);
      throw new BackupFormatError(`unexpected top-level key ${JSON.stringify(key)}: a format 1.0 backup holds only "metadata" then "data"`);
    }
    this.topKeys++;
    this.topKey = key;
  }

  private dataKey(name: string): void {
    this.expectDataKey = false;
    const expected = this.keys[this.index];
    if (name !== expected?.key) {
      const listed = this.keys.findIndex((k) => k.key === name);
      if (listed === -1) throw new BackupFormatError(`data holds ${JSON.stringify(name)}, which metadata.recordCounts does not list`);
      if (listed < this.index) throw new BackupFormatError(`data holds ${JSON.stringify(name)} twice`);
      throw new BackupFormatError(
        `data holds ${JSON.stringify(name)} where metadata.recordCounts lists ${JSON.stringify(expected!.key)} next (data must follow the order of recordCounts)`,
      );
    }
    this.current = expected;
  }

  private value(info: ParsedElementInfo): void {
    if (info.stack.length === 1) this.metadata(info.value);
    else this.row(info.value, info.key as number);
  }

  private row(value: unknown, index: number): void {
    const key = this.current!;
    if (!isObject(value)) throw new BackupFormatError(`data.${key.key}[${index}] must be a JSON object (a row), found ${describeValue(value)}`);
    if (this.rows >= key.count) {
      throw new BackupFormatError(`metadata.recordCounts says ${JSON.stringify(key.key)} has ${key.count} rows but data.${key.key} holds more`);
    }
    let json: string;
    try {
      json = JSON.stringify(value);
    } catch (err) {
      throw new BackupFormatError(`data.${key.key}[${index}] cannot be serialised (${(err as Error).message})`, undefined, { cause: err });
    }
    this.hash.add(this.rows === 0 ? json : `,${json}`);
    this.rows++;
    if (key.included) this.events.push({ kind: 'row', table: key.table, json, value, parsed: true });
  }

  private metadata(value: unknown): void {
    if (!isObject(value)) throw new BackupFormatError(`metadata must be a JSON object, found ${describeValue(value)}`);
    if (!Object.hasOwn(value, 'version')) throw new BackupFormatError('metadata has no version');
    if (value.version !== APP_FORMAT_VERSION) {
      throw new BackupFormatError(`unsupported format version ${JSON.stringify(value.version)}: Kiln reads the app's format "${APP_FORMAT_VERSION}"`);
    }
    const unknown = Object.keys(value).find((k) => !METADATA_KEYS.has(k));
    if (unknown !== undefined) throw new BackupFormatError(`metadata has an unknown field ${JSON.stringify(unknown)}`);
    if (!Object.hasOwn(value, 'checksum')) throw new BackupFormatError('metadata has no checksum: the file cannot be checked');
    if (typeof value.checksum !== 'string' || !CHECKSUM.test(value.checksum)) {
      throw new BackupFormatError(`metadata.checksum must be 64 lowercase hex digits (sha256), found ${describeValue(value.checksum)}`);
    }
    if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) {
      throw new BackupFormatError(`metadata.createdAt must be an ISO date string, found ${describeValue(value.createdAt)}`);
    }
    if (typeof value.systemVersion !== 'string') throw new BackupFormatError(`metadata.systemVersion must be a string, found ${describeValue(value.systemVersion)}`);
    if (!Object.hasOwn(value, 'recordCounts')) throw new BackupFormatError('metadata has no recordCounts');
    const counts = value.recordCounts;
    if (!isObject(counts)) throw new BackupFormatError(`metadata.recordCounts must be a JSON object, found ${describeValue(counts)}`);

    const tables = new Set<string>();
    const options = { includeAuditLogs: false, includeSessions: false };
    for (const [key, count] of Object.entries(counts)) {
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
        throw new BackupFormatError(`metadata.recordCounts.${key} must be a row count, found ${describeValue(count)}`);
      }
      const table = tableOf(key);
      if (tables.has(table)) throw new BackupFormatError(`metadata.recordCounts names table ${JSON.stringify(table)} twice`);
      tables.add(table);
      const option = Object.hasOwn(OPTIONAL_KEYS, key) ? OPTIONAL_KEYS[key] : undefined;
      // An empty auditLogs/staffSessions means "not included": restore then keeps the live rows.
      const included = option === undefined || count > 0;
      if (option && included) options[option] = true;
      this.keys.push({ key, table, count, included });
    }
    this.checksum = value.checksum;
    const { checksum: _, ...signed } = value;
    this.hash.add(`{"metadata":${JSON.stringify(signed)}`);
    this.metadataSeen = true;

    const header: BackupHeader = {
      kilnVersion: `app ${value.systemVersion}`,
      schemaVersion: APP_SCHEMA_VERSION,
      createdAt: value.createdAt,
      tables: this.keys.filter((k) => k.included).map((k) => k.table),
      options,
    };
    this.events.push({ kind: 'header', header, formatVersion: 1, format: 'app-1.0' });
  }
}

/**
 * @streamparser/json (0.0.26, the newest) decodes a string's non-ASCII runs and \u escapes one
 * TextDecoder.decode() call at a time, and TextDecoder drops a U+FEFF that begins what it is given
 * (the byte order mark rule): a row holding one anywhere lost it, and its file failed its checksum.
 * Its string builder gets a decoder that keeps it (an app row with U+FEFF: edge-values.test.ts).
 */
function keepByteOrderMarks(tokenizer: Tokenizer): Tokenizer {
  const strings = (tokenizer as unknown as { bufferedString?: { decoder?: { decode?: unknown } } }).bufferedString;
  if (typeof strings?.decoder?.decode !== 'function') throw new Error('@streamparser/json no longer has Tokenizer.bufferedString.decoder: see keepByteOrderMarks');
  strings.decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  return tokenizer;
}

export interface ReadAppBackupOptions {
  /**
   * Largest metadata or row (or any one string or number, or run of whitespace), in bytes as
   * written: a larger one fails instead of filling memory. Default: DEFAULT_READ_LIMITS.maxLineBytes.
   */
  maxValueBytes?: number;
}

/**
 * Reads one of the app's format 1.0 backups (plain bytes: gzip and encryption are undone
 * before) in constant memory, yielding the same events as Kiln's own reader: `header` once
 * metadata is read, then `table`/`row`/`tableEnd` for each table the backup includes, and
 * `end` with the counts (keyed by table), the file's checksum and the one computed over what
 * was read. The checksums are reported, not compared. Any deviation from the format throws
 * a {@link BackupFormatError}; events come as the file is read, so a consumer may already
 * have acted on rows when it does.
 */
export async function* readAppBackup(input: AsyncIterable<Buffer>, options: ReadAppBackupOptions = {}): AsyncGenerator<BackupEvent> {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_READ_LIMITS.maxLineBytes;
  const parser = new AppFormatParser();
  let bytes = 0;
  for await (const chunk of input) {
    for (let start = 0; start < chunk.length; start += SLICE_BYTES) {
      // The parser holds what was read since its last quiet point: a row or metadata too big stops here.
      if (bytes - parser.quietOffset > maxValueBytes) {
        throw new BackupLimitError(`a value is longer than the ${maxValueBytes}-byte limit, ${parser.where()}`, 'maxLineBytes');
      }
      const slice = chunk.subarray(start, start + SLICE_BYTES);
      bytes += slice.length;
      try {
        parser.write(slice);
      } finally {
        // Events before an error are still delivered, as Kiln's reader delivers the lines before a bad one.
        const events = parser.events.splice(0);
        for (const event of events) yield event;
      }
    }
  }
  yield parser.end(bytes);
}
