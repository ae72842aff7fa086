/**
 * Writes a backup the way the lending app does ("format 1.0", shared/reference/README.md), as
 * test/support/app-backup-file.ts does, but STREAMED: rows go from a PostgreSQL cursor to the file
 * one by one, never held together, so a bench database of any size can be written.
 *
 * The app's file is `JSON.stringify({ metadata, data }, null, 2)` with metadata.checksum (written
 * before data) = sha256 of the compact `JSON.stringify({ metadata without checksum, data })`. So:
 * rows are counted per table first (metadata.recordCounts comes first), metadata is written with a
 * placeholder checksum of the same length, each row is written pretty-printed at its depth and
 * hashed compact as it goes, and the checksum is written over the placeholder at the end. The
 * bytes equal what the app (and the test helper) would write for the same rows in the same order.
 *
 * The conversion of a column's text to what Prisma's findMany() gives under JSON.stringify is
 * the test helper's, copied (tsconfig.bench.json does not compile test/).
 */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import QueryStream from 'pg-query-stream';
import { APP_DATA_KEYS, BatchedHash } from '../src/backup/format/app-backup-reader';
// The app's serialisation of each value, shared with the tests' format 1.0 writer.
import { columnsOf, prismaValue, selectExpression } from '../test/support/app-backup-file';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface AppStreamOptions {
  /** false (the app's default when not asked): auditLogs is written as an empty array. */
  includeAuditLogs?: boolean;
  /** false (the app's default when not asked): staffSessions is written as an empty array. */
  includeSessions?: boolean;
  /** Default: now. */
  createdAt?: string;
  /** The schema holding the lending tables; default public. */
  schema?: string;
}

export interface AppStreamResult {
  file: string;
  bytes: number;
  /** Rows written over all data keys. */
  rows: number;
  recordCounts: Record<string, number>;
  checksum: string;
  /** Wall time of counting and writing. */
  seconds: number;
}

/** Characters gathered before they reach the file or the hash. */
const BATCH_CHARS = 1 << 20;
/** Rows a cursor read fetches at a time. */
const FETCH_ROWS = 1000;
const PLACEHOLDER = '0'.repeat(64);
/** Indentation of a row: root { → "data": { → "<key>": [ → row. */
const ROW_INDENT = '\n      ';

/**
 * Writes the format 1.0 backup of the lending tables of the database at `url` to `filePath`.
 * Counts and rows are read in one REPEATABLE READ snapshot, so they agree.
 */
export async function writeAppBackupStream(url: string, filePath: string, options: AppStreamOptions = {}): Promise<AppStreamResult> {
  const started = performance.now();
  const schema = options.schema ?? 'public';
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const included = (key: string) => !((key === 'auditLogs' && !options.includeAuditLogs) || (key === 'staffSessions' && !options.includeSessions));
    const recordCounts: Record<string, number> = {};
    for (const [key, table] of Object.entries(APP_DATA_KEYS)) {
      recordCounts[key] = included(key) ? Number((await client.query(`SELECT count(*) AS n FROM ${q(schema)}.${q(table)}`)).rows[0].n) : 0;
    }
    const metadata = { version: '1.0', createdAt: options.createdAt ?? new Date().toISOString(), systemVersion: '1.0.0', recordCounts };

    // `{\n  "metadata": {…,\n    "checksum": "000…"\n  }` then `,\n  "data": {`: the pretty document's own start.
    const withPlaceholder = JSON.stringify({ metadata: { ...metadata, checksum: PLACEHOLDER } }, null, 2);
    const head = `${withPlaceholder.slice(0, withPlaceholder.lastIndexOf('\n}'))},\n  "data": {`;
    const checksumOffset = Buffer.byteLength(head.slice(0, head.indexOf(PLACEHOLDER)));

    const out = new BatchedFile(filePath);
    const hash = new BatchedHash();
    out.add(head);
    hash.add(`{"metadata":${JSON.stringify(metadata)},"data":{`);
    let rows = 0;
    let index = 0;
    for (const [key, table] of Object.entries(APP_DATA_KEYS)) {
      out.add(`${index === 0 ? '' : ','}\n    ${JSON.stringify(key)}: [`);
      hash.add(`${index === 0 ? '' : ','}${JSON.stringify(key)}:[`);
      let written = 0;
      if (included(key)) {
        const columns = await columnsOf(client, schema, table);
        const stream = client.query(
          new QueryStream(`SELECT ${columns.map(selectExpression).join(', ')} FROM ${q(schema)}.${q(table)}`, [], { rowMode: 'array', batchSize: FETCH_ROWS }),
        );
        for await (const values of stream as AsyncIterable<Array<string | null>>) {
          const row: Record<string, unknown> = {};
          for (let i = 0; i < columns.length; i++) row[columns[i].name] = prismaValue(columns[i], values[i], table);
          // JSON strings never hold a raw newline: every newline of the pretty text is indentation.
          out.add(`${written === 0 ? '' : ','}${ROW_INDENT}${JSON.stringify(row, null, 2).replace(/\n/g, ROW_INDENT)}`);
          hash.add(`${written === 0 ? '' : ','}${JSON.stringify(row)}`);
          written++;
          if (out.full()) await out.flush();
        }
      }
      if (written !== recordCounts[key]) throw new Error(`writeAppBackupStream: counted ${recordCounts[key]} ${table} rows, read ${written}`);
      out.add(written === 0 ? ']' : '\n    ]');
      hash.add(']');
      rows += written;
      index++;
    }
    out.add('\n  }\n}');
    hash.add('}}');
    await client.query('COMMIT');
    const bytes = await out.close();

    const checksum = hash.digest();
    const handle = await open(filePath, 'r+');
    try {
      await handle.write(Buffer.from(checksum), 0, checksum.length, checksumOffset);
    } finally {
      await handle.close();
    }
    return { file: filePath, bytes, rows, recordCounts, checksum, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.end();
  }
}

/** Text to a file in large writes, with backpressure. */
class BatchedFile {
  private readonly stream;
  private pending = '';
  private bytes = 0;

  constructor(filePath: string) {
    this.stream = createWriteStream(filePath, { mode: 0o600 });
  }

  add(text: string): void {
    this.pending += text;
  }

  full(): boolean {
    return this.pending.length >= BATCH_CHARS;
  }

  async flush(): Promise<void> {
    const chunk = Buffer.from(this.pending);
    this.pending = '';
    this.bytes += chunk.length;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  /** Writes what is left and closes the file; returns the bytes written. */
  async close(): Promise<number> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
    return this.bytes;
  }
}
