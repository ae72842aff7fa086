import { APP_SCHEMA } from '../../db/schemas';
import { quoteIdent } from '../../db/sql';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
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
}

/**
 * Reads every table in one READ ONLY, REPEATABLE READ transaction, so all
 * tables come from the same instant while the lending app keeps writing.
 * Rows stream out of PostgreSQL as `row_to_json` text through COPY, one line
 * each, and go to the sink with backpressure: memory does not grow with size.
 * They stay bytes all the way: decoding a million rows to strings and encoding
 * them again for the file and the checksum cost more than PostgreSQL's work.
 */
export async function exportSnapshot(
  dataSource: DataSource,
  tables: readonly string[],
  sink: SnapshotSink,
  onProgress: SnapshotProgress,
  signal: AbortSignal,
): Promise<ExportedSnapshot> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  const counts: Record<string, number> = {};
  let rowsDone = 0;
  const slice = new EventLoopSlice();
  try {
    const server = await serverKind(client);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Before the snapshot, as pg_dump cannot: a TRUNCATE or a table rewrite committed after the
    // snapshot would otherwise empty a table read later (neither is MVCC-safe) while the snapshot
    // claims not to hold it. LOCK takes no snapshot; the statement after it does.
    if (server.postgres) await lockForReading(dataSource, client, tables, signal, (table) => onProgress({ table, rowsDone: 0 }));
    const { snapshot, snapshotAt } = server.currentSnapshot ? await currentSnapshot(client) : { snapshot: null, snapshotAt: null };
    for (const table of tables) {
      signal.throwIfAborted();
      await sink.beginTable(table);
      // Named before its first row: a table whose rows are slow to come (a lock, a big scan) shows as the one being read.
      onProgress({ table, rowsDone });
      let rows = 0;
      const copy = client.query(copyTo(`COPY (SELECT row_to_json(kiln_row.*)::text FROM ${quoteIdent(table)} kiln_row) TO STDOUT`));
      const abort = () => copy.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', abort, { once: true });
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
          rows += await sink.writeLines(unescapeCopyText(lines));
          onProgress({ table, rowsDone: rowsDone + rows });
          await slice.pause();
        }
        if (held.length > 0) throw new Error(`COPY of ${table} ended in the middle of a row`);
      } finally {
        signal.removeEventListener('abort', abort);
      }
      signal.throwIfAborted();
      counts[table] = rows;
      rowsDone += rows;
      await sink.endTable();
    }
    await client.query('COMMIT');
    return { counts, snapshot, snapshotAt };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await runner.release();
  }
}

interface ServerKind {
  /** PostgreSQL itself, not CockroachDB (which has no LOCK TABLE and reads at a timestamp anyway). */
  postgres: boolean;
  /** pg_current_snapshot() exists: PostgreSQL 13 and later. */
  currentSnapshot: boolean;
}

async function serverKind(client: PoolClient): Promise<ServerKind> {
  const { rows } = await client.query<{ version: string; num: string }>(`SELECT version() AS version, current_setting('server_version_num') AS num`);
  const postgres = !/cockroach/i.test(rows[0].version);
  return { postgres, currentSnapshot: postgres && Number(rows[0].num) >= 130000 };
}

/**
 * ACCESS SHARE on every table, the lock any reader takes: the lending app goes on writing, and a
 * TRUNCATE or ALTER waits for the backup. A lock held by someone else is waited for as long as the
 * job runs, the table named in its progress; cancelling the job cancels the wait.
 */
async function lockForReading(dataSource: DataSource, client: PoolClient, tables: readonly string[], signal: AbortSignal, onTable: (table: string) => void): Promise<void> {
  signal.throwIfAborted();
  const pid = (client as PoolClient & { processID: number }).processID;
  const cancel = () => void dataSource.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
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
