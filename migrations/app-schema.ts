import type { QueryRunner } from 'typeorm';
import { APP_SCHEMA } from '../src/db/schemas';

export { APP_SCHEMA };

/**
 * Runs `work` with `public` alone on the search_path, so that unqualified DDL and
 * the catalog lookups keyed on current_schema() address the app's tables, then
 * puts Kiln's search_path back (connections put Kiln's schema first).
 */
export async function inAppSchema<T>(q: QueryRunner, work: () => Promise<T>): Promise<T> {
  const [{ search_path: previous }] = (await q.query('SHOW search_path')) as Array<{ search_path: string }>;
  await q.query(`SET search_path TO ${APP_SCHEMA}`);
  let result: T;
  try {
    result = await work();
  } catch (err) {
    // Inside a failed transaction the SET fails too (and the rollback undoes the first SET).
    await q.query(`SET search_path TO ${previous}`).catch(() => undefined);
    throw err;
  }
  await q.query(`SET search_path TO ${previous}`);
  return result;
}

/** Kiln's own schema: the first on the connection's search_path (created before migrations run). */
export async function kilnSchemaOf(q: QueryRunner): Promise<string> {
  const [{ schema }] = (await q.query('SELECT current_schema() AS schema')) as Array<{ schema: string }>;
  return schema;
}
