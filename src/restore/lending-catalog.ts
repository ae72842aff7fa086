import { APP_SCHEMA } from '../db/schemas';
import type { EntityManager } from 'typeorm';
import { LENDING_TABLES } from '../domain';

/** What a column's values look like in a backup row, for the checks a file is held to. */
export type ColumnKind = 'json' | 'timestamp' | 'number' | 'boolean' | 'text' | 'other';

export interface ColumnInfo {
  name: string;
  /** NOT NULL without a default: a file must carry it. */
  required: boolean;
  kind: ColumnKind;
}

const KINDS: Record<string, ColumnKind> = {
  json: 'json',
  jsonb: 'json',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamp',
  date: 'timestamp',
  integer: 'number',
  bigint: 'number',
  smallint: 'number',
  numeric: 'number',
  'double precision': 'number',
  real: 'number',
  boolean: 'boolean',
  text: 'text',
  'character varying': 'text',
  character: 'text',
  'USER-DEFINED': 'text', // the lending enums
};

export interface ForeignKeyInfo {
  table: string;
  column: string;
  references: string;
  nullable: boolean;
}

export interface LendingCatalog {
  columns: Map<string, Map<string, ColumnInfo>>;
  foreignKeys: ForeignKeyInfo[];
}

/** The live lending schema as the database describes it (not as the entities say). */
export async function readLendingCatalog(db: Pick<EntityManager, 'query'>): Promise<LendingCatalog> {
  const columnRows: Array<{ table_name: string; column_name: string; is_nullable: string; column_default: string | null; data_type: string }> = await db.query(
    `SELECT table_name, column_name, is_nullable, column_default, data_type FROM information_schema.columns
      WHERE table_schema = '${APP_SCHEMA}' AND table_name = ANY($1) ORDER BY table_name, ordinal_position`,
    [LENDING_TABLES],
  );
  const columns = new Map<string, Map<string, ColumnInfo>>();
  for (const r of columnRows) {
    if (!columns.has(r.table_name)) columns.set(r.table_name, new Map());
    columns.get(r.table_name)!.set(r.column_name, {
      name: r.column_name,
      required: r.is_nullable === 'NO' && r.column_default === null,
      kind: KINDS[r.data_type] ?? 'other',
    });
  }
  const fkRows: Array<{ table: string; column: string; references: string; nullable: boolean }> = await db.query(
    `SELECT c.relname AS "table", a.attname AS "column", r.relname AS "references", NOT a.attnotnull AS nullable
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_class r ON r.oid = con.confrelid
       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
      WHERE con.contype = 'f' AND c.relnamespace = '${APP_SCHEMA}'::regnamespace AND c.relname = ANY($1)`,
    [LENDING_TABLES],
  );
  return { columns, foreignKeys: fkRows };
}
