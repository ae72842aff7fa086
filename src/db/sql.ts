import { escapeIdentifier, type Client, type Pool } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/**
 * The SQL helpers every module shares: identifier quoting and one typed way to
 * run a statement and read its rows, through TypeORM or a plain pg client.
 */

/** Anything Kiln runs SQL through: the data source, a transaction's manager, a query runner, or a pg pool or client. */
export type SqlRunner = DataSource | EntityManager | QueryRunner | Pool | Client;

/** A name (table, column, schema, constraint) as a quoted SQL identifier, safe whatever it holds (pg's own quoting). */
export function quoteIdent(name: string): string {
  return escapeIdentifier(name);
}

/**
 * A string as a SQL literal, for the few statements that take no parameters (SET TRANSACTION
 * SNAPSHOT, a script for psql): only quotes are doubled, which is right where
 * standard_conforming_strings is on (PostgreSQL's default since 9.1, CockroachDB's only value); a
 * script sets it itself. Not pg's escapeLiteral: its E'' form doubles every backslash of the rows' JSON.
 */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The rows a statement gave back, typed by the caller, whatever the statement.
 * TypeORM's plain `query()` returns `[rows, affectedCount]` for UPDATE and DELETE
 * (and rows for the rest), so `rows.length` or `const [row]` on it would be wrong there.
 */
export async function query<T extends object = Record<string, unknown>>(db: SqlRunner, sql: string, parameters: unknown[] = []): Promise<T[]> {
  if (isTypeorm(db, 'DataSource')) {
    const runner = db.createQueryRunner();
    try {
      return await structured<T>(runner, sql, parameters);
    } finally {
      await runner.release();
    }
  }
  if (isTypeorm(db, 'EntityManager')) return db.queryRunner ? structured<T>(db.queryRunner, sql, parameters) : query<T>(db.dataSource, sql, parameters);
  if ('isReleased' in db) return structured<T>(db, sql, parameters);
  return (await db.query(sql, parameters)).rows as T[];
}

/** The first row, or undefined when there is none. */
export async function queryOne<T extends object = Record<string, unknown>>(db: SqlRunner, sql: string, parameters: unknown[] = []): Promise<T | undefined> {
  return (await query<T>(db, sql, parameters))[0];
}

/** The rows an UPDATE/DELETE … RETURNING gave back (the same as `query`, named for what the caller means). */
export function updateReturning<T extends object = Record<string, unknown>>(db: SqlRunner, sql: string, parameters: unknown[]): Promise<T[]> {
  return query<T>(db, sql, parameters);
}

// TypeORM's own mark (what its InstanceChecker reads): holds across copies of the module, and keeps
// this file free of runtime imports, so light processes (the embedded PostgreSQL worker) can use it.
function isTypeorm<K extends 'DataSource' | 'EntityManager'>(db: SqlRunner, kind: K): db is K extends 'DataSource' ? DataSource : EntityManager {
  return (db as { '@instanceof'?: symbol })['@instanceof'] === Symbol.for(kind);
}

// One statement per call: pg answers several (a string with semicolons) with a result each and no rows.
async function structured<T>(runner: QueryRunner, sql: string, parameters: unknown[]): Promise<T[]> {
  return ((await runner.query(sql, parameters, true)).records ?? []) as T[];
}
