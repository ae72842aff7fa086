import { query, type SqlRunner } from '../db/sql';

/**
 * Each table's primary-key columns in key order, for tables named as regclass accepts them (an
 * oid, or a quoted schema-qualified name); a table without a primary key is absent. Replay finds
 * rows by it, and the streamer logs old rows by it, where a table's replica identity is FULL.
 */
export async function primaryKeyColumns(db: SqlRunner, tables: string[]): Promise<Array<{ oid: number; table: string; columns: string[] }>> {
  return query<{ oid: number; table: string; columns: string[] }>(
    db,
    `SELECT c.oid::int AS oid, c.relname AS "table", array_agg(a.attname::text ORDER BY k.n) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE i.indrelid = ANY($1::regclass[]) AND i.indisprimary
      GROUP BY c.oid, c.relname`,
    [tables],
  );
}
