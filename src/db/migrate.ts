import type { DataSource } from 'typeorm';

/**
 * Creates Kiln's schema and runs the migrations. TypeORM's own `migrations`
 * table lives in Kiln's schema too; an earlier Kiln kept it in `public`, so it
 * is moved first (the migrations then move the rest, see KilnOwnSchema).
 * Returns the names of the migrations applied.
 */
export async function migrateDatabase(dataSource: DataSource, kilnSchema: string): Promise<string[]> {
  await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${kilnSchema}"`);
  const [{ legacy, current }] = await dataSource.query(
    `SELECT to_regclass('public.migrations') IS NOT NULL AS legacy, to_regclass($1) IS NOT NULL AS current`,
    [`"${kilnSchema}".migrations`],
  );
  if (legacy && !current) {
    // Only Kiln's own history: a `migrations` table of some other tool in public is not ours to move.
    const [{ kiln }] = await dataSource.query(`SELECT count(*)::int > 0 AS kiln FROM public.migrations WHERE name = 'LendingSchema1764000000000'`);
    if (kiln) await dataSource.query(`ALTER TABLE public.migrations SET SCHEMA "${kilnSchema}"`);
  }
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}
