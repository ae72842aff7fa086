/**
 * Where tables live. The lending app's Prisma schema owns `public`: its 19
 * lending tables and its own `backup_records` and `backup_schedule_settings`.
 * `prisma db push` treats anything else there as drift (and drops unknown
 * tables), so Kiln keeps its own tables in a schema of its own (KILN_SCHEMA,
 * `kiln` by default) and never changes the shape of a table in `public`.
 *
 * Connections put Kiln's schema first on the search_path: unqualified names
 * reach Kiln's tables there and the app's tables in `public`.
 */
export const APP_SCHEMA = 'public';

export const DEFAULT_KILN_SCHEMA = 'kiln';

/** The connection's search_path: Kiln's schema first, then the app's. */
export function searchPath(kilnSchema: string): string {
  return `${kilnSchema},${APP_SCHEMA}`;
}
