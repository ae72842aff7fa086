import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';

export interface TableEstimate {
  table: string;
  rows: number;
}

export interface SnapshotSink {
  beginTable(name: string): Promise<void>;
  writeRow(json: string): Promise<void>;
  endTable(): Promise<void>;
}

export interface SnapshotProgress {
  (change: { table: string; rowsDone: number }): void;
}

/**
 * Reads every table in one READ ONLY, REPEATABLE READ transaction, so all
 * tables come from the same instant while the lending app keeps writing.
 * Rows stream out of PostgreSQL as `row_to_json` text through COPY, one line
 * each, and go to the sink with backpressure: memory does not grow with size.
 */
export async function exportSnapshot(
  dataSource: DataSource,
  tables: readonly string[],
  sink: SnapshotSink,
  onProgress: SnapshotProgress,
  signal: AbortSignal,
): Promise<Record<string, number>> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  const counts: Record<string, number> = {};
  let rowsDone = 0;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const table of tables) {
      signal.throwIfAborted();
      await sink.beginTable(table);
      let rows = 0;
      const copy = client.query(copyTo(`COPY (SELECT row_to_json(t)::text FROM ${quoteIdent(table)} t) TO STDOUT`));
      const abort = () => copy.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', abort, { once: true });
      try {
        let rest = '';
        for await (const chunk of copy as AsyncIterable<Buffer>) {
          const text = rest + chunk.toString('utf8');
          let start = 0;
          for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
            await sink.writeRow(unescapeCopyText(text.slice(start, end)));
            rows++;
            start = end + 1;
          }
          rest = text.slice(start);
          onProgress({ table, rowsDone: rowsDone + rows });
        }
        if (rest.length > 0) throw new Error(`COPY of ${table} ended in the middle of a row`);
      } finally {
        signal.removeEventListener('abort', abort);
      }
      signal.throwIfAborted();
      counts[table] = rows;
      rowsDone += rows;
      await sink.endTable();
    }
    await client.query('COMMIT');
    return counts;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await runner.release();
  }
}

/** Planner estimates (for progress only), never a full count of a large table. */
export async function estimateRows(dataSource: DataSource, tables: readonly string[]): Promise<TableEstimate[]> {
  const rows: Array<{ relname: string; estimate: string }> = await dataSource.query(
    `SELECT c.relname, greatest(c.reltuples, 0)::bigint AS estimate
       FROM pg_class c WHERE c.relname = ANY($1) AND c.relnamespace = current_schema()::regnamespace`,
    [tables],
  );
  const byName = new Map(rows.map((r) => [r.relname, Number(r.estimate)]));
  return tables.map((table) => ({ table, rows: byName.get(table) ?? 0 }));
}

/**
 * COPY's text format escapes backslash, newline, CR and tab. JSON text has no raw
 * control characters, so only doubled backslashes occur.
 */
function unescapeCopyText(line: string): string {
  return line.includes('\\') ? line.replace(/\\\\/g, '\\') : line;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
