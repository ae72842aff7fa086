import { getMetadataArgsStorage } from 'typeorm';
import { lendingEntities } from './index';

/** One foreign key of a lending table: `table`.`column` references `references`.id. */
export interface LendingReference {
  table: string;
  column: string;
  references: string;
}

let cached: readonly LendingReference[] | undefined;

/**
 * The lending tables' foreign keys as the entities declare them (their ManyToOne join columns),
 * for code that has no database to ask, such as the SQL export. Read from TypeORM's decorator
 * records, so there is no second list to keep in step with the entities.
 */
export function lendingReferences(): readonly LendingReference[] {
  if (cached) return cached;
  const storage = getMetadataArgsStorage();
  const tableOf = (target: unknown) => storage.tables.find((t) => t.target === target)?.name;
  const entities = new Set<unknown>(lendingEntities);
  cached = storage.relations
    .filter((r) => r.relationType === 'many-to-one' && entities.has(r.target))
    .map((r) => {
      const join = storage.joinColumns.find((j) => j.target === r.target && j.propertyName === r.propertyName);
      const parent = (r.type as () => unknown)();
      return { table: tableOf(r.target)!, column: join?.name ?? `${r.propertyName}Id`, references: tableOf(parent)! };
    });
  return cached;
}
