import type { PoolClient } from 'pg';
import { APP_SCHEMA } from '../db/schemas';

export interface IndexDefinition {
  table: string;
  name: string;
  /** pg_get_indexdef: the CREATE INDEX statement that gives the index back exactly. */
  definition: string;
}

/** Memory for each rebuild's sort (SET LOCAL: the transaction's own, gone at its end). */
const REBUILD_MEMORY = '256MB';

/**
 * CockroachDB runs schema changes inside a transaction differently (and rebuilds indexes
 * asynchronously); there the indexes stay and are maintained row by row.
 */
export async function isCockroachDb(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ version: string }>('SELECT version() AS version');
  return /cockroach/i.test(rows[0]?.version ?? '');
}

/**
 * Drops the secondary indexes of `tables` (those that back no constraint) inside the caller's
 * transaction and returns them to be built again: one sort per index after the load costs a
 * fraction of inserting a million rows into each index one by one. A rollback brings them back
 * with everything else. Indexes this exact statement could not give back the same (another
 * tablespace, CLUSTER or replica identity marks, a comment, an invalid index) are left alone,
 * and without the right to drop them (not the tables' owner) all stay: slower, as correct.
 */
export async function dropSecondaryIndexes(client: PoolClient, tables: string[]): Promise<IndexDefinition[]> {
  const { rows } = await client.query<IndexDefinition>(
    `SELECT t.relname AS "table", ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE t.relnamespace = '${APP_SCHEMA}'::regnamespace AND t.relname = ANY($1)
        AND i.indisvalid AND i.indisready AND NOT i.indisclustered AND NOT i.indisreplident
        AND ic.reltablespace = 0 AND obj_description(i.indexrelid, 'pg_class') IS NULL
        AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.deptype IN ('i', 'e'))
      ORDER BY t.relname, ic.relname`,
    [tables],
  );
  if (rows.length === 0) return [];
  await client.query('SAVEPOINT kiln_drop_indexes');
  try {
    await client.query(`DROP INDEX ${rows.map((r) => `${quote(APP_SCHEMA)}.${quote(r.name)}`).join(', ')}`);
    await client.query('RELEASE SAVEPOINT kiln_drop_indexes');
    return rows;
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    await client.query('ROLLBACK TO SAVEPOINT kiln_drop_indexes');
    return [];
  }
}

/** Builds the indexes dropSecondaryIndexes took, each with one sort of its table; `each` wraps every build (errors, abort). */
export async function rebuildIndexes(
  client: PoolClient,
  indexes: IndexDefinition[],
  each: (index: IndexDefinition, build: () => Promise<unknown>) => Promise<unknown>,
): Promise<void> {
  if (indexes.length === 0) return;
  const { rows } = await client.query<{ kb: string }>(`SELECT setting AS kb FROM pg_settings WHERE name = 'maintenance_work_mem'`);
  // Never lowered: a server tuned higher keeps its setting.
  if (Number(rows[0]?.kb ?? 0) < 256 * 1024) await client.query(`SET LOCAL maintenance_work_mem = '${REBUILD_MEMORY}'`);
  for (const index of indexes) await each(index, () => client.query(index.definition));
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
