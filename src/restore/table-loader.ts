import { APP_SCHEMA } from '../db/schemas';
import { quoteIdent as q } from '../db/sql';
import type { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { readBackup, type BackupEvent, type BackupReadLimits } from '../backup/format/backup-reader';
import { BadUserInputError } from '../errors/kiln-errors';
import { copyRows } from './copy-rows';
import type { LendingCatalog } from './lending-catalog';
import type { RestorePlan } from './restore-plan';
import { dropIndexes, isCockroachDb, rebuildIndexes } from './table-indexes';

const BATCH_ROWS = 5000;
const BATCH_CHARS = 8 * 1024 * 1024;

export interface LoadResult {
  rows: number;
  /** Rows of tables the backup lacked that were dropped because their parent is gone. */
  removed: Record<string, number>;
}

const keep = (table: string) => `pg_temp.${q(`kiln_keep_${table}`)}`;

/**
 * Replaces the lending data inside the caller's open transaction, as pg_restore would:
 * the foreign keys between the tables go, the tables are emptied (TRUNCATE, undone by a
 * rollback like everything else here) and lose their primary keys and other indexes, every row of
 * `events` (the file's rows, checked as they pass) is streamed in once with COPY, and the
 * keys and indexes come back, each built or checked by one pass over its table.
 * PostgreSQL checks every type, key and NOT NULL on the way; nothing is visible to others
 * before the caller commits, and any error leaves the transaction for the caller to roll back.
 */
export async function loadBackupInTransaction(
  client: PoolClient,
  events: AsyncIterable<BackupEvent>,
  plan: RestorePlan,
  catalog: LendingCatalog,
  onRows: (rows: number, table: string | null) => void,
  signal: AbortSignal,
  /**
   * Runs once the rows are in and the indexes built, while the foreign keys are still off and the
   * carried rows still aside (a restore to an instant replays the journal here: row for row, as logged).
   */
  afterLoad?: () => Promise<void>,
): Promise<LoadResult> {
  // The restore phase begins here, before its first lock: a load waiting on one shows as the restore.
  onRows(0, null);
  // Rows of tables the backup lacks (sessions, audit) step aside while their parents are replaced.
  for (const { table } of plan.carried) {
    await client.query(`CREATE TEMP TABLE ${keep(table)} ON COMMIT DROP AS SELECT * FROM ${q(table)}`);
  }
  const emptied = [...plan.replaced, ...plan.carried.map((c) => c.table)];
  const foreignKeys = await dropForeignKeys(client, emptied);
  await client.query(`TRUNCATE ${emptied.map(q).join(', ')}`);
  // Only once the foreign keys are gone (none depends on an index then), and never on CockroachDB.
  const indexes = foreignKeys.length > 0 && !(await isCockroachDb(client)) ? await dropIndexes(client, emptied) : [];

  const loaded = await withCopyContext(() =>
    copyRows(client, events, q, (table) => [...catalog.columns.get(table)!.values()].map((c) => ({ name: c.name, json: c.kind === 'json' })), onRows, signal),
  );
  // Before the carried rows come back: their parent checks look rows up by primary key.
  await rebuildIndexes(client, indexes, (index, build) => {
    signal.throwIfAborted();
    return withTableContext(index.table, null, build);
  });
  await afterLoad?.();

  const removed: Record<string, number> = {};
  for (const { table, links } of plan.carried) {
    const columns = [...catalog.columns.get(table)!.keys()];
    const parentExists = (column: string, references: string) => `EXISTS (SELECT 1 FROM ${q(references)} p WHERE p.id = k.${q(column)})`;
    const select = columns.map((c) => {
      const link = links.find((l) => l.column === c && l.nullable);
      return link ? `CASE WHEN ${parentExists(c, link.references)} THEN k.${q(c)} END` : `k.${q(c)}`;
    });
    const required = links.filter((l) => !l.nullable).map((l) => `(k.${q(l.column)} IS NULL OR ${parentExists(l.column, l.references)})`);
    const kept = await client.query(
      `INSERT INTO ${q(table)} (${columns.map(q).join(', ')}) SELECT ${select.join(', ')} FROM ${keep(table)} k ${required.length ? `WHERE ${required.join(' AND ')}` : ''}`,
    );
    const before = await client.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${keep(table)}`);
    const dropped = Number(before.rows[0].n) - (kept.rowCount ?? 0);
    if (dropped > 0) removed[table] = dropped;
  }
  for (const fk of foreignKeys) {
    signal.throwIfAborted();
    await withTableContext(fk.table, null, () => client.query(`ALTER TABLE ${q(fk.table)} ADD CONSTRAINT ${q(fk.name)} ${fk.definition}`));
  }
  return { rows: loaded.rows, removed };
}

interface ForeignKeyDefinition {
  table: string;
  name: string;
  definition: string;
}

/**
 * Drops the foreign keys from or to `tables` and returns them to be added again. Checking a
 * million rows one by one (a trigger per row) costs more than loading them; adding a key back
 * checks the whole table in one join. Without the right to alter the tables (not their owner),
 * the keys stay and are checked row by row: slower, as correct.
 */
async function dropForeignKeys(client: PoolClient, tables: string[]): Promise<ForeignKeyDefinition[]> {
  const { rows } = await client.query<ForeignKeyDefinition>(
    `SELECT c.relname AS "table", con.conname AS name, pg_get_constraintdef(con.oid) AS definition
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid
      WHERE con.contype = 'f' AND c.relnamespace = '${APP_SCHEMA}'::regnamespace AND (c.relname = ANY($1) OR r.relname = ANY($1))
      ORDER BY c.relname, con.conname`,
    [tables],
  );
  await client.query('SAVEPOINT kiln_drop_foreign_keys');
  try {
    for (const fk of rows) await client.query(`ALTER TABLE ${q(fk.table)} DROP CONSTRAINT ${q(fk.name)}`);
    await client.query('RELEASE SAVEPOINT kiln_drop_foreign_keys');
    return rows;
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    await client.query('ROLLBACK TO SAVEPOINT kiln_drop_foreign_keys');
    return [];
  }
}

/** A COPY error names the table and the row (`COPY "Loan", line 3, column …`): the same message as before. */
async function withCopyContext<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const where = /COPY (.+?), line (\d+)/.exec((err as { where?: string }).where ?? '');
    if (!where) throw err;
    return withTableContext(where[1].replace(/^"|"$/g, ''), Number(where[2]), () => Promise.reject(err));
  }
}

/** Loads every row of a backup into `target(table)` tables, in batches PostgreSQL type-checks. */
export async function stageRows(
  client: PoolClient,
  input: Readable,
  target: (table: string) => string,
  onRows: (rows: number, table: string) => void,
  signal: AbortSignal,
  limits: BackupReadLimits = {},
): Promise<number> {
  let batch: string[] = [];
  let chars = 0;
  let table = '';
  let first = 0;
  let rows = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const json = `[${batch.join(',')}]`;
    const from = first;
    batch = [];
    chars = 0;
    await withTableContext(table, from, () =>
      client.query(`INSERT INTO ${target(table)} SELECT * FROM json_populate_recordset(NULL::${target(table)}, $1::json)`, [json]),
    );
    onRows(rows, table);
  };
  for await (const event of readBackup(input, limits)) {
    signal.throwIfAborted();
    if (event.kind === 'table') {
      table = event.name;
      first = 1;
    } else if (event.kind === 'row') {
      if (batch.length === 0) first = rows + 1;
      batch.push(event.json);
      chars += event.json.length;
      rows++;
      if (batch.length >= BATCH_ROWS || chars >= BATCH_CHARS) await flush();
    } else if (event.kind === 'tableEnd') {
      await flush();
    }
  }
  return rows;
}

/** PostgreSQL's complaint about a row, with the table it came from; anything else as it is. */
async function withTableContext<T>(table: string, firstRow: number | null, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const pg = err as { code?: string; message?: string; detail?: string };
    // 22xxx bad values, 23xxx broken keys, 54001 JSON nested beyond PostgreSQL's stack.
    if (typeof pg.code === 'string' && (/^(22|23)/.test(pg.code) || pg.code === '54001')) {
      const where = firstRow === null ? `table "${table}"` : `table "${table}" (rows from ${firstRow})`;
      const what =
        pg.code === '23505' ? 'duplicate key' : pg.code === '23503' ? 'a reference to a missing row' : pg.code === '54001' ? 'a value nested too deeply' : 'a value of the wrong type';
      throw new BadUserInputError(`The backup holds ${what} in ${where}: ${pg.message}${pg.detail ? ` (${pg.detail})` : ''}`, {
        table,
        sqlState: pg.code,
      });
    }
    throw err;
  }
}
