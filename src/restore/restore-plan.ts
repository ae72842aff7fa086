import { LENDING_TABLES, OPTIONAL_BACKUP_TABLES } from '../domain';
import { BadUserInputError } from '../errors/kiln-errors';
import type { ForeignKeyInfo, LendingCatalog } from './lending-catalog';

export interface RestorePlan {
  /** Tables whose rows the backup replaces, parents first. */
  replaced: string[];
  /**
   * Tables the backup lacks that point at replaced ones: their rows are set
   * aside and put back afterwards, minus those whose parent is gone.
   */
  carried: Array<{ table: string; links: ForeignKeyInfo[] }>;
}

/** Which tables a restore of these backed-up tables replaces and which it carries over. */
export function planRestore(backupTables: readonly string[], catalog: LendingCatalog): RestorePlan {
  const unknown = backupTables.filter((t) => !(LENDING_TABLES as readonly string[]).includes(t));
  if (unknown.length) throw new BadUserInputError(`The backup holds tables this database does not have: ${unknown.join(', ')}`, { tables: unknown });
  const missing = LENDING_TABLES.filter((t) => !OPTIONAL_BACKUP_TABLES.includes(t as never) && !backupTables.includes(t));
  if (missing.length) throw new BadUserInputError(`The backup lacks required tables: ${missing.join(', ')}`, { tables: missing });

  const replaced: string[] = LENDING_TABLES.filter((t) => backupTables.includes(t));
  const carried = LENDING_TABLES.filter((t) => !backupTables.includes(t))
    .map((table) => ({ table, links: catalog.foreignKeys.filter((fk) => fk.table === table && replaced.includes(fk.references)) }))
    .filter((c) => c.links.length > 0);
  return { replaced, carried };
}
