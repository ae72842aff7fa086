import type { DataSource } from 'typeorm';
import { query, quoteIdent } from './sql';

/**
 * Creates Kiln's schema and runs the migrations. TypeORM's own `migrations`
 * table lives in Kiln's schema too; an earlier Kiln kept it in `public`, so it
 * is moved first (the migrations then move the rest, see KilnOwnSchema).
 * Returns the names of the migrations applied.
 */
export async function migrateDatabase(dataSource: DataSource, kilnSchema: string): Promise<string[]> {
  await query(dataSource, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(kilnSchema)}`);
  const [{ legacy, current }] = await query<{ legacy: boolean; current: boolean }>(
    dataSource,
    `SELECT to_regclass('public.migrations') IS NOT NULL AS legacy, to_regclass($1) IS NOT NULL AS current`,
    [`${quoteIdent(kilnSchema)}.migrations`],
  );
  if (legacy && !current) {
    // Only Kiln's own history: a `migrations` table of some other tool in public is not ours to move.
    const [{ kiln }] = await query<{ kiln: boolean }>(dataSource, `SELECT count(*)::int > 0 AS kiln FROM public.migrations WHERE name = 'LendingSchema1764000000000'`);
    if (kiln) await query(dataSource, `ALTER TABLE public.migrations SET SCHEMA ${quoteIdent(kilnSchema)}`);
  }
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}
