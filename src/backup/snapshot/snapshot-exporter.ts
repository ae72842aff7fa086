import { APP_SCHEMA } from '../../db/schemas';
import { quoteIdent, quoteLiteral } from '../../db/sql';
import type { Client, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { cancelStatement, closeAbruptly, dedicatedClient } from '../../db/data-source';
import { EventLoopSlice } from '../../jobs/event-loop-slice';

export interface TableEstimate {
  table: string;
  rows: number;
}

export interface SnapshotSink {
  beginTable(name: string): Promise<void>;
  /** Whole rows, each a JSON object and a newline; resolves with their number once the sink can take more. */
  writeLines(lines: Buffer): Promise<number>;
  endTable(): Promise<void>;
}

export interface SnapshotProgress {
  (change: { table: string; rowsDone: number }): void;
}

export interface ExportedSnapshot {
  /** Rows written per table. */
  counts: Record<string, number>;
  /**
   * The transaction snapshot the rows were read in, as `pg_current_snapshot()` gives it
   * (`xmin:xmax:xip,…`, 64-bit transaction ids, epoch included): a transaction's changes are in the
   * backup exactly when `pg_visible_in_snapshot(its xid, this)`; what a change journal replays on
   * top of the backup is every other one. Null where the server has no such function (CockroachDB,
   * PostgreSQL before 13).
   */
  snapshot: string | null;
  /**
   * The server's clock as the snapshot was read, after it was taken: every transaction the backup
   * holds committed before it, so the backup can serve as the base of a restore to any later instant.
   */
  snapshotAt: Date | null;
  /** The tables read in two halves at once (see SPLIT_FROM_BYTES). */
  splitTables: string[];
}

/**
 * Tables at least this large on disk are read in two halves at once, by a second connection in the
 * same snapshot: PostgreSQL's row_to_json is most of a backup's work, and one backend does it on
 * one core.
 */
const SPLIT_FROM_BYTES = 16 * 1024 * 1024;

export interface ExportOptions {
  /** Sessions reading a large table at once: 2 (the default) or 1 (one core of the server, as before). */
  sessions?: number;
  /** Tests: split tables from this size (0: every table of two pages or more). */
  splitFromBytes?: number;
}

/**
 * Reads every table in one READ ONLY, REPEATABLE READ transaction, so all
 * tables come from the same instant while the lending app keeps writing.
 * Rows stream out of PostgreSQL as `row_to_json` text through COPY, one line
 * each, and go to the sink with backpressure: memory does not grow with size.
 * They stay bytes all the way: decoding a million rows to strings and encoding
 * them again for the file and the checksum cost more than PostgreSQL's work.
 * On PostgreSQL 14 and later, a large table's second half (by page) is read at
 * the same time by a second session that imported the snapshot; its rows
 * interleave with the first half's in the file (a table's rows have no order).
 */
export async function exportSnapshot(
  dataSource: DataSource,
  tables: readonly string[],
  sink: SnapshotSink,
  onProgress: SnapshotProgress,
  signal: AbortSignal,
  options: ExportOptions = {},
): Promise<ExportedSnapshot> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  const counts: Record<string, number> = {};
  const splitTables: string[] = [];
  let rowsDone = 0;
  const slice = new EventLoopSlice();
  // Opened at the first table large enough to split; null when it could not be.
  let second: SecondReader | null | undefined;
  try {
    const server = await serverKind(client);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Before the snapshot, as pg_dump cannot: a TRUNCATE or a table rewrite committed after the
    // snapshot would otherwise empty a table read later (neither is MVCC-safe) while the snapshot
    // claims not to hold it. LOCK takes no snapshot; the statement after it does.
    if (server.postgres) await lockForReading(dataSource, client, tables, signal, (table) => onProgress({ table, rowsDone: 0 }));
    const { snapshot, snapshotAt } = server.currentSnapshot ? await currentSnapshot(client) : { snapshot: null, snapshotAt: null };
    // Not on a standby (snapshot null there): a snapshot taken in recovery is not exported.
    const splits = (options.sessions ?? 2) > 1 && server.ctidRanges && snapshot !== null;
    for (const table of tables) {
      signal.throwIfAborted();
      await sink.beginTable(table);
      // Named before its first row: a table whose rows are slow to come (a lock, a big scan) shows as the one being read.
      onProgress({ table, rowsDone });
      let rows = 0;
      const write = async (lines: Buffer) => {
        // Not `rows += await …`: that reads `rows` before the wait, and the other half's rows written meanwhile would be lost.
        const written = await sink.writeLines(unescapeCopyText(lines));
        rows += written;
        onProgress({ table, rowsDone: rowsDone + rows });
        await slice.pause();
      };
      const middle = splits && second !== null ? await middlePage(client, table, options.splitFromBytes ?? SPLIT_FROM_BYTES) : null;
      if (middle !== null && second === undefined) second = await SecondReader.open(dataSource, client);
      const reader = middle !== null && second && (await second.begin(table)) ? second : null;
      if (reader) {
        const firstHalf = `ctid < '(${middle},0)'::tid`;
        const secondHalf = `ctid >= '(${middle},0)'::tid`;
        const read = await copyAtOnce<'done' | 'lock wait'>([(stop) => copyLines(client, table, firstHalf, stop, write).then(() => 'done'), (stop) => reader.copy(table, secondHalf, stop, write)], signal);
        if (read[1] === 'lock wait') await copyAtOnce([(stop) => copyLines(client, table, secondHalf, stop, write)], signal);
        else splitTables.push(table);
      } else {
        await copyAtOnce([(stop) => copyLines(client, table, null, stop, write)], signal);
      }
      signal.throwIfAborted();
      counts[table] = rows;
      rowsDone += rows;
      await sink.endTable();
    }
    await client.query('COMMIT');
    return { counts, snapshot, snapshotAt, splitTables };
  } catch (err) {
    // Closed, not rolled back: after a COPY stopped mid-way the connection no longer reads what the
    // server still sends, so a ROLLBACK would wait behind it forever, the tables locked. The server
    // rolls back as the connection goes; the pool drops it.
    await closeAbruptly(client, dataSource);
    throw err;
  } finally {
    await second?.close();
    await runner.release();
  }
}

/**
 * Runs the copies of one table together; the first to fail stops the others (and a cancelled job
 * stops them all), and its error is the one thrown once every copy has ended.
 */
async function copyAtOnce<T>(copies: Array<(stop: AbortSignal) => Promise<T>>, signal: AbortSignal): Promise<T[]> {
  signal.throwIfAborted(); // an aborted signal fires no 'abort' for a listener added now
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const ended = await Promise.allSettled(copies.map((copy) => copy(stop.signal).catch((err: unknown) => (stop.abort(err), Promise.reject(err)))));
    const failed = ended.find((e): e is PromiseRejectedResult => e.status === 'rejected');
    if (failed) throw stop.signal.reason ?? failed.reason;
    return ended.map((e) => (e as PromiseFulfilledResult<T>).value);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The table's rows (those `where` picks) through COPY, handed to `write` in whole lines. */
async function copyLines(client: PoolClient | Client, table: string, where: string | null, stop: AbortSignal, write: (lines: Buffer) => Promise<void>): Promise<void> {
  stop.throwIfAborted();
  const copy = client.query(copyTo(`COPY (SELECT row_to_json(kiln_row.*)::text FROM ${quoteIdent(table)} kiln_row${where ? ` WHERE ${where}` : ''}) TO STDOUT`));
  const abort = () => copy.destroy(stop.reason instanceof Error ? stop.reason : new Error('aborted'));
  stop.addEventListener('abort', abort, { once: true });
  try {
    // Bytes after the last newline of a chunk: the start of a row the next chunks finish.
    let held: Buffer[] = [];
    for await (const chunk of copy as AsyncIterable<Buffer>) {
      const end = chunk.lastIndexOf(0x0a) + 1;
      if (end === 0) {
        held.push(chunk);
        continue;
      }
      const lines = held.length > 0 ? Buffer.concat([...held, chunk.subarray(0, end)]) : chunk.subarray(0, end);
      held = end < chunk.length ? [chunk.subarray(end)] : [];
      await write(lines);
    }
    if (held.length > 0) throw new Error(`COPY of ${table} ended in the middle of a row`);
  } finally {
    stop.removeEventListener('abort', abort);
  }
}

/** The page the table's second half starts at, or null when it is smaller than `fromBytes` (or one page). */
async function middlePage(client: PoolClient, table: string, fromBytes: number): Promise<number | null> {
  const { rows } = await client.query<{ bytes: string; page: number }>(
    `SELECT pg_relation_size(format('%I.%I', $1::text, $2::text)::regclass)::bigint AS bytes, current_setting('block_size')::int AS page`,
    [APP_SCHEMA, table],
  );
  const bytes = Number(rows[0].bytes);
  const middle = Math.floor(bytes / rows[0].page / 2);
  return bytes >= fromBytes && middle > 0 ? middle : null;
}

/**
 * Whether this role may call pg_export_snapshot(): a DBA can revoke it from PUBLIC. Asked before
 * the call (at the first table large enough to split) because a refused call cannot be caught: it
 * aborts the backup's transaction, and PostgreSQL does not export a snapshot from a savepoint.
 * Without it there is no second session, and the backup's own reads every table alone.
 */
async function mayExportSnapshot(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ may: boolean }>(`SELECT has_function_privilege('pg_catalog.pg_export_snapshot()', 'EXECUTE') AS may`);
  return rows[0].may;
}

/** How long the second session waits for a lock its COPY needs (an index's, the TOAST table's) before the backup's own session reads that half. */
const SECOND_SESSION_LOCK_WAIT_MS = 1000;

/**
 * A second session reading in the backup's snapshot, on a connection of its own (none taken from
 * the API's pool), one transaction per table: it holds no lock between tables and is never idle in
 * a transaction for long. It is an optimisation: where it cannot read, the backup's session does.
 */
class SecondReader {
  private closed = false;

  private constructor(
    private readonly client: Client,
    private readonly snapshotId: string,
    private readonly dataSource: DataSource,
  ) {}

  static async open(dataSource: DataSource, first: PoolClient): Promise<SecondReader | null> {
    if (!(await mayExportSnapshot(first))) return null;
    // The backup's own snapshot (repeatable read), importable while its transaction lasts. Not
    // caught (see mayExportSnapshot): a failure aborts the backup's transaction, and the backup has to say why.
    const { rows } = await first.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    const client = dedicatedClient(dataSource, 'kiln-backup-reader');
    client.on('error', () => undefined); // a lost connection fails the statement it was serving
    try {
      await client.connect();
      return new SecondReader(client, rows[0].id, dataSource);
    } catch {
      await client.end().catch(() => undefined);
      return null;
    }
  }

  /**
   * A transaction in the backup's snapshot holding ACCESS SHARE on `table`; false, holding nothing,
   * when the lock is not to be had at once (a TRUNCATE or ALTER queued behind the backup's own lock
   * is ahead of this session, and would wait for the backup, which would wait for this) or the
   * session is gone.
   */
  async begin(table: string): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await this.client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(this.snapshotId)}`);
      await this.client.query(`SET LOCAL lock_timeout = ${SECOND_SESSION_LOCK_WAIT_MS}`);
      await this.client.query(`LOCK TABLE ${quoteIdent(table)} IN ACCESS SHARE MODE NOWAIT`);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') await this.client.query('ROLLBACK').catch(() => this.close(true));
      else await this.close(true);
      return false;
    }
  }

  /**
   * The rows `where` picks, then the end of the transaction. 'lock wait' when a lock the COPY needed
   * was not granted in time before any row came: the caller reads them itself.
   */
  async copy(table: string, where: string, stop: AbortSignal, write: (lines: Buffer) => Promise<void>): Promise<'done' | 'lock wait'> {
    let wrote = false;
    try {
      await copyLines(this.client, table, where, stop, (lines) => ((wrote = true), write(lines)));
      await this.client.query('COMMIT');
      return 'done';
    } catch (err) {
      // A COPY stopped mid-way leaves the connection unusable (see exportSnapshot).
      await this.close(true);
      if (!wrote && !stop.aborted && (err as { code?: string }).code === '55P03') return 'lock wait';
      throw err;
    }
  }

  /** Ends the session: politely between tables, at once after a failure (its connection may be mid-COPY). */
  async close(failed = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await (failed ? closeAbruptly(this.client, this.dataSource) : this.client.end().catch(() => closeAbruptly(this.client)));
  }
}

interface ServerKind {
  /** PostgreSQL itself, not CockroachDB (which has no LOCK TABLE and reads at a timestamp anyway). */
  postgres: boolean;
  /** pg_current_snapshot() exists: PostgreSQL 13 and later. */
  currentSnapshot: boolean;
  /** A ctid range is read without scanning the rest of the table (TID range scan): PostgreSQL 14 and later. */
  ctidRanges: boolean;
}

async function serverKind(client: PoolClient): Promise<ServerKind> {
  const { rows } = await client.query<{ version: string; num: string }>(`SELECT version() AS version, current_setting('server_version_num') AS num`);
  const postgres = !/cockroach/i.test(rows[0].version);
  const version = Number(rows[0].num);
  return { postgres, currentSnapshot: postgres && version >= 130000, ctidRanges: postgres && version >= 140000 };
}

/**
 * ACCESS SHARE on every table, the lock any reader takes: the lending app goes on writing, and a
 * TRUNCATE or ALTER waits for the backup. A lock held by someone else is waited for as long as the
 * job runs, the table named in its progress; cancelling the job cancels the wait.
 */
async function lockForReading(dataSource: DataSource, client: PoolClient, tables: readonly string[], signal: AbortSignal, onTable: (table: string) => void): Promise<void> {
  signal.throwIfAborted();
  const cancel = () => void cancelStatement(dataSource, client);
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (const table of tables) {
      signal.throwIfAborted(); // a cancel between two locks found no statement to cancel
      onTable(table);
      await client.query(`LOCK TABLE ${quoteIdent(table)} IN ACCESS SHARE MODE`);
    }
  } catch (err) {
    signal.throwIfAborted();
    throw err;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

/**
 * The transaction's snapshot, taken by this statement (its first to need one). Top-level transaction
 * ids, which is what pgoutput reports a commit under. On a hot standby the snapshot's running
 * transactions are kept as subtransactions (xip empty), so it cannot be tested against an xid: none.
 */
async function currentSnapshot(client: PoolClient): Promise<{ snapshot: string | null; snapshotAt: Date | null }> {
  // clock_timestamp() runs after the statement's snapshot was taken: later than every commit it holds.
  const { rows } = await client.query<{ snapshot: string | null; snapshotAt: Date | null; isolation: string }>(
    `SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_snapshot()::text END AS snapshot,
            CASE WHEN pg_is_in_recovery() THEN NULL ELSE clock_timestamp() END AS "snapshotAt",
            current_setting('transaction_isolation') AS isolation`,
  );
  // Read committed would take a new snapshot per statement: this one would name none of them.
  if (rows[0].isolation !== 'repeatable read') throw new Error(`the backup transaction runs at ${rows[0].isolation}, not repeatable read`);
  return { snapshot: rows[0].snapshot, snapshotAt: rows[0].snapshotAt };
}

/** Planner estimates (for progress only), never a full count of a large table. */
export async function estimateRows(dataSource: DataSource, tables: readonly string[]): Promise<TableEstimate[]> {
  const rows: Array<{ relname: string; estimate: string }> = await dataSource.query(
    `SELECT c.relname, greatest(c.reltuples, 0)::bigint AS estimate
       FROM pg_class c WHERE c.relname = ANY($1) AND c.relnamespace = '${APP_SCHEMA}'::regnamespace`,
    [tables],
  );
  const byName = new Map(rows.map((r) => [r.relname, Number(r.estimate)]));
  return tables.map((table) => ({ table, rows: byName.get(table) ?? 0 }));
}

/**
 * COPY's text format escapes backslash, newline, CR and tab. JSON text has no raw
 * control characters, so only doubled backslashes occur.
 */
function unescapeCopyText(lines: Buffer): Buffer {
  let backslash = lines.indexOf(0x5c);
  if (backslash === -1) return lines;
  const out = Buffer.allocUnsafe(lines.length);
  let length = 0;
  let start = 0;
  for (; backslash !== -1; backslash = lines.indexOf(0x5c, start)) {
    length += lines.copy(out, length, start, backslash + 1); // up to and with the first backslash
    start = backslash + 2; // its twin is dropped
  }
  length += lines.copy(out, length, start);
  return out.subarray(0, length);
}
