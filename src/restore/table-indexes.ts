import type { PoolClient } from 'pg';
import { APP_SCHEMA } from '../db/schemas';
import { quoteIdent as q } from '../db/sql';

/** An index or primary key dropped for a load, with the statement that gives it back exactly. */
export interface DroppedIndex {
  table: string;
  name: string;
  /** CREATE INDEX (pg_get_indexdef) or ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY (pg_get_constraintdef). */
  rebuild: string;
}

/** Memory for each rebuild's sort (SET LOCAL: the transaction's own, gone at its end). */
const REBUILD_MEMORY_KB = 256 * 1024;

/**
 * CockroachDB runs schema changes inside a transaction differently (and builds indexes
 * asynchronously); there the indexes stay and are maintained row by row.
 */
export async function isCockroachDb(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ version: string }>('SELECT version() AS version');
  return /cockroach/i.test(rows[0]?.version ?? '');
}

// An index this exact statement gives back the same: not in another tablespace, without CLUSTER or
// replica identity marks, a comment, or anything (a foreign key left in place, an extension) that
// depends on it; valid and ready.
const REBUILDABLE = `i.indisvalid AND i.indisready AND NOT i.indisclustered AND NOT i.indisreplident
  AND ic.reltablespace = 0 AND obj_description(i.indexrelid, 'pg_class') IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.deptype = 'e')`;

/**
 * Drops the indexes of `tables` (primary keys and the indexes that back no constraint) inside the
 * caller's transaction, once their tables are empty, and returns them to be built again: one sort
 * per index after the load costs a fraction of inserting a million rows into each index one by
 * one. A rollback brings them back with everything else. Unique and exclusion constraints other
 * than primary keys stay. Without the right to drop them (not the tables' owner) all stay: slower, as correct.
 */
export async function dropIndexes(client: PoolClient, tables: string[]): Promise<DroppedIndex[]> {
  const { rows } = await client.query<DroppedIndex & { constraint: boolean }>(
    `SELECT t.relname AS "table", coalesce(con.conname, ic.relname) AS name, con.conname IS NOT NULL AS "constraint",
            CASE WHEN con.conname IS NULL THEN pg_get_indexdef(i.indexrelid)
                 ELSE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', '${APP_SCHEMA}', t.relname, con.conname, pg_get_constraintdef(con.oid)) END AS rebuild
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE t.relnamespace = '${APP_SCHEMA}'::regnamespace AND t.relname = ANY($1) AND ${REBUILDABLE}
        AND (con.oid IS NULL OR con.contype = 'p')
      ORDER BY t.relname, con.conname IS NULL, ic.relname`,
    [tables],
  );
  if (rows.length === 0) return [];
  await client.query('SAVEPOINT kiln_drop_indexes');
  try {
    for (const r of rows) {
      await client.query(r.constraint ? `ALTER TABLE ${q(APP_SCHEMA)}.${q(r.table)} DROP CONSTRAINT ${q(r.name)}` : `DROP INDEX ${q(APP_SCHEMA)}.${q(r.name)}`);
    }
    await client.query('RELEASE SAVEPOINT kiln_drop_indexes');
    return rows.map(({ table, name, rebuild }) => ({ table, name, rebuild }));
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    await client.query('ROLLBACK TO SAVEPOINT kiln_drop_indexes');
    return [];
  }
}

/**
 * Builds again what dropIndexes took, primary keys first (each table's in the order dropped), each
 * with one sort of its table; `each` wraps every build (errors, abort). A primary or unique key
 * built again refuses duplicates as the live one would have (23505).
 */
export async function rebuildIndexes(client: PoolClient, indexes: DroppedIndex[], each: (index: DroppedIndex, build: () => Promise<unknown>) => Promise<unknown>): Promise<void> {
  if (indexes.length === 0) return;
  const { rows } = await client.query<{ kb: string }>(`SELECT setting AS kb FROM pg_settings WHERE name = 'maintenance_work_mem'`);
  // Never lowered: a server tuned higher keeps its setting.
  if (Number(rows[0]?.kb ?? 0) < REBUILD_MEMORY_KB) await client.query(`SET LOCAL maintenance_work_mem = '${REBUILD_MEMORY_KB}kB'`);
  for (const index of indexes) await each(index, () => client.query(index.rebuild));
}
