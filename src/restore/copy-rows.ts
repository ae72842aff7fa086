import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BackupEvent } from '../backup/format/backup-reader';
import { quoteIdent as q } from '../db/sql';
import { BackupCorruptError } from '../errors/kiln-errors';
import { EventLoopSlice } from '../jobs/event-loop-slice';

/**
 * Lines are encoded straight into buffers of this size, each sent to the COPY stream when full:
 * cheaper than joining them into a string and encoding that (about 0.5 µs a row).
 */
const CHUNK_BYTES = 256 * 1024;

/**
 * Streams every row of a backup's `events` (as readBackup gives them) into `target(table)` with COPY FROM STDIN (text format), table by
 * table, with backpressure: memory stays flat and PostgreSQL parses each value once with the
 * column's input function, as pg_restore does. Rows are JSON objects as `row_to_json` wrote them
 * (the reader has already checked each is one); a key missing from a row loads NULL, as
 * json_populate_recordset does. `columns(table)` lists the table's columns in COPY order.
 * Returns the rows loaded, once the end event came; PostgreSQL's errors carry `where: COPY <table>, line <row>`.
 */
export async function copyRows(
  client: PoolClient,
  events: AsyncIterable<BackupEvent>,
  target: (table: string) => string,
  columns: (table: string) => ReadonlyArray<{ name: string; json?: boolean }>,
  onRows: (rows: number, table: string) => void,
  signal: AbortSignal,
): Promise<{ rows: number }> {
  let copy: ReturnType<typeof copyFrom> | undefined;
  // PostgreSQL's first refusal of a COPY: whatever fails after it in the aborted transaction
  // ("current transaction is aborted", a closed stream) is that refusal, and is reported as it.
  let refused: unknown;
  let index = new Map<string, number>();
  let json: ReadonlySet<number> = new Set();
  let width = 0;
  let table = '';
  const chunk = new CopyChunk();
  const slice = new EventLoopSlice();
  let rows = 0;
  const abort = () => copy?.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal.addEventListener('abort', abort, { once: true });
  const write = async (text: Buffer) => {
    // once() rejects with the stream's error: a COPY PostgreSQL refused stops the read at once.
    if (refused ?? copy!.errored) throw refused ?? copy!.errored;
    if (!copy!.write(text)) await once(copy!, 'drain');
  };
  try {
    for await (const event of events) {
      signal.throwIfAborted();
      if (event.kind === 'table') {
        table = event.name;
        const list = columns(table);
        index = new Map(list.map((c, i) => [c.name, i]));
        json = new Set(list.flatMap((c, i) => (c.json ? [i] : [])));
        width = list.length;
        copy = client.query(copyFrom(`COPY ${target(table)} (${list.map((c) => q(c.name)).join(', ')}) FROM STDIN`));
        // Its errors are taken up by write() and finished(); one that arrives in between (PostgreSQL's
        // answer to a COPY this side destroyed, a refused row) must not be an unhandled 'error' event.
        copy.on('error', (err) => (refused ??= err));
      } else if (event.kind === 'row') {
        const full = chunk.add(rowToCopyLine(event.json, index, width, table, json));
        rows++;
        if (full) {
          await write(full);
          onRows(rows, table);
          await slice.pause();
        }
      } else if (event.kind === 'tableEnd') {
        const rest = chunk.take();
        if (rest) await write(rest);
        copy!.end();
        await finished(copy!);
        if (refused) throw refused;
        copy = undefined;
        onRows(rows, table);
      } else if (event.kind === 'end') {
        return { rows };
      }
    }
    throw new BackupCorruptError('the backup ended without its footer');
  } catch (err) {
    copy?.destroy();
    throw refused ?? err;
  } finally {
    signal.removeEventListener('abort', abort);
  }
}

/** COPY lines encoded as UTF-8 into a buffer; add() hands back the bytes gathered once they fill it. */
class CopyChunk {
  private buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private used = 0;

  add(line: string): Buffer | undefined {
    // A UTF-16 unit takes at most 3 bytes in UTF-8.
    if (this.used + line.length * 3 > this.buffer.length) {
      const full = this.take();
      if (line.length * 3 > this.buffer.length) return full ? Buffer.concat([full, Buffer.from(line)]) : Buffer.from(line);
      this.used = this.buffer.write(line, 0);
      return full;
    }
    this.used += this.buffer.write(line, this.used);
    return undefined;
  }

  /** The bytes gathered (undefined if none); the next lines go to a new buffer, as the stream may still hold these. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const bytes = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.used = 0;
    return bytes;
  }
}

/**
 * A row's values in COPY text format, tab-separated, newline-terminated; absent keys are \N.
 * A json/jsonb column (its index in `jsonColumns`) takes the value's JSON text whatever its kind:
 * a JSON string stays quoted, true stays true (not t), so scalars survive the round trip.
 */
export function rowToCopyLine(json: string, index: Map<string, number>, width: number, table: string, jsonColumns: ReadonlySet<number> = NO_COLUMNS): string {
  // Most rows hold no backslash at all: nothing to decode or double, and every quote ends a string.
  // (A raw tab, CR or newline, which only an altered file holds, goes the general way, which escapes it.)
  if (json.indexOf('\\') === -1 && json.indexOf('\t') === -1 && json.indexOf('\r') === -1 && json.indexOf('\n') === -1) {
    const line = plainRowToCopyLine(json, index, width, jsonColumns);
    if (line !== undefined) return line;
  }
  const values = new Array<string>(width).fill('\\N');
  let i = skipSpace(json, 1);
  if (json.charCodeAt(i) === 0x7d) return `${values.join('\t')}\n`;
  for (;;) {
    if (json.charCodeAt(i) !== 0x22) throw new BackupCorruptError(`Table "${table}": a row is not a flat JSON object (the file changed since it was written?)`);
    const keyEnd = endOfString(json, i);
    const key = stringValue(json, i, keyEnd);
    i = skipSpace(json, skipSpace(json, keyEnd + 1) + 1); // past the colon
    let value: string;
    const c = json.charCodeAt(i);
    const column = index.get(key);
    const isJson = column !== undefined && jsonColumns.has(column);
    if (c === 0x22 && isJson) {
      // The JSON text as written; JSON has no raw control characters, only backslashes to double.
      const end = endOfString(json, i) + 1;
      value = json.slice(i, end).replace(/\\/g, '\\\\');
      i = end;
    } else if (c === 0x22) {
      const end = endOfString(json, i);
      value = copyEscape(stringValue(json, i, end));
      i = end + 1;
    } else if (c === 0x7b || c === 0x5b) {
      const end = endOfNested(json, i);
      // json/jsonb text as written; JSON has no raw control characters, only backslashes to double.
      value = json.slice(i, end).replace(/\\/g, '\\\\');
      i = end;
    } else {
      value = scalarValue(json, i, isJson);
      // No number, true, false or null holds a backslash; COPY would read it as an escape.
      if (json.slice(i, scalarEnd).includes('\\')) throw new BackupCorruptError(`Table "${table}": a value is not JSON (the file changed since it was written?)`);
      i = scalarEnd;
    }
    if (column === undefined) throw new BackupCorruptError(`Table "${table}": unknown column "${key}"`); // a stored file's rows past the first of a table are not parsed: its recorded checksum fails it too
    values[column] = value;
    i = skipSpace(json, i);
    if (json.charCodeAt(i) === 0x2c) i = skipSpace(json, i + 1);
    else break;
  }
  return `${values.join('\t')}\n`;
}

/**
 * rowToCopyLine's fast path, for a row without a backslash whose keys come in column order (as
 * row_to_json writes them): the line is built as the row is read, each value sliced once. Anything
 * else (a key out of order or unknown, a row that is not a flat object) answers undefined, and the
 * general path decides, with its errors.
 */
function plainRowToCopyLine(json: string, index: Map<string, number>, width: number, jsonColumns: ReadonlySet<number>): string | undefined {
  let line = '';
  let next = 0;
  let i = skipSpace(json, 1);
  if (json.charCodeAt(i) !== 0x22) return undefined;
  for (;;) {
    if (json.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = json.indexOf('"', i + 1);
    const column = keyEnd === -1 ? undefined : index.get(json.slice(i + 1, keyEnd));
    if (column === undefined || column < next) return undefined;
    // A key absent from the row loads NULL.
    for (; next < column; next++) line += next === 0 ? '\\N' : '\t\\N';
    i = skipSpace(json, skipSpace(json, keyEnd + 1) + 1); // past the colon
    const isJson = jsonColumns.has(column);
    const c = json.charCodeAt(i);
    let value: string;
    if (c === 0x22) {
      const end = json.indexOf('"', i + 1);
      if (end === -1) return undefined;
      // A json column keeps the string quoted, as its JSON text.
      value = isJson ? json.slice(i, end + 1) : json.slice(i + 1, end);
      i = end + 1;
    } else if (c === 0x7b || c === 0x5b) {
      const end = endOfNested(json, i);
      value = json.slice(i, end);
      i = end;
    } else {
      value = scalarValue(json, i, isJson);
      i = scalarEnd;
    }
    line += column === 0 ? value : '\t' + value;
    next = column + 1;
    i = skipSpace(json, i);
    if (json.charCodeAt(i) === 0x2c) i = skipSpace(json, i + 1);
    else break;
  }
  for (; next < width; next++) line += next === 0 ? '\\N' : '\t\\N';
  return line + '\n';
}

/** Where the last scalarValue() ended: a variable, not a returned pair, as it runs for every value of every row. */
let scalarEnd = 0;

/**
 * The COPY text of the null, true, false or number at `i`: null is \\N; true and false are t and f,
 * or stay as written in a json column; a number is kept exactly as written (a numeric beyond
 * double precision stays exact).
 */
function scalarValue(json: string, i: number, isJson: boolean): string {
  const c = json.charCodeAt(i);
  if (c === 0x6e) {
    scalarEnd = i + 4;
    return '\\N';
  }
  if (!isJson && (c === 0x74 || c === 0x66)) {
    scalarEnd = i + (c === 0x74 ? 4 : 5);
    return c === 0x74 ? 't' : 'f';
  }
  scalarEnd = endOfScalar(json, i);
  return json.slice(i, scalarEnd);
}

function skipSpace(s: string, i: number): number {
  for (let c = s.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = s.charCodeAt(++i));
  return i;
}

const NO_COLUMNS: ReadonlySet<number> = new Set();

/** Index just past a number, true, false or null that starts at `start`. */
function endOfScalar(s: string, start: number): number {
  let end = start;
  while (end < s.length && !isEndOfNumber(s.charCodeAt(end))) end++;
  return end;
}

function isEndOfNumber(c: number): boolean {
  return c === 0x2c || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the quote closing the string that opens at `start`. */
function endOfString(s: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = s.indexOf('"', from);
    // Only an unparsed row (a stored file's, past the first of a table) that was tampered with gets here; its checksum fails the restore anyway.
    if (quote === -1) throw new BackupCorruptError('a row ends inside a string (the file changed since it was written?)');
    let backslashes = 0;
    while (s.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** The decoded string between `start` and `end` (both quotes). */
function stringValue(s: string, start: number, end: number): string {
  const raw = s.slice(start + 1, end);
  return raw.includes('\\') ? (JSON.parse(s.slice(start, end + 1)) as string) : raw;
}

/** Index just past the object or array that opens at `start` (iterative: nesting depth is no limit here). */
function endOfNested(s: string, start: number): number {
  let depth = 0;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) i = endOfString(s, i);
    else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) return i + 1;
  }
  return s.length;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** COPY text format: backslash, newline, carriage return and tab are escaped. */
function copyEscape(text: string): string {
  return /[\\\n\r\t]/.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]) : text;
}
