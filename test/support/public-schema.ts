import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

export const REFERENCE_DDL = path.resolve(__dirname, '../../../shared/reference/app-schema.postgresql.sql');

/** Runs a SQL file (the app's Prisma DDL, a pg_dump --inserts fixture) as one script, as psql -f would. */
export async function loadSqlFile(url: string, file: string): Promise<void> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(readFileSync(file, 'utf8'));
  } finally {
    await db.end();
  }
}

/**
 * The shape of the `public` schema as `prisma db push` compares it: tables, columns (type,
 * nullability, default, position), indexes, constraints and enum types, each as a sorted line.
 */
export async function publicCatalog(url: string): Promise<Record<string, string[]>> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const q = async (sql: string) => (await db.query(sql)).rows.map((r) => Object.values(r).join(' ')).sort();
    return {
      tables: await q(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`),
      columns: await q(
        `SELECT table_name, column_name, data_type, coalesce(datetime_precision::text, ''), is_nullable, coalesce(column_default, '')
           FROM information_schema.columns WHERE table_schema = 'public'`,
      ),
      indexes: await q(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`),
      constraints: await q(`SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace`),
      types: await q(
        `SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
          WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname`,
      ),
    };
  } finally {
    await db.end();
  }
}

/** The tables of a schema, sorted. */
export async function tablesIn(url: string, schema: string): Promise<string[]> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema])).rows.map((r) => r.table_name);
  } finally {
    await db.end();
  }
}

/** `pg_dump --schema-only --schema=public` of the database, without its version banner. */
export async function pgDumpPublicSchema(url: string): Promise<string> {
  const u = new URL(url);
  u.search = '';
  const { stdout } = await promisify(execFile)('pg_dump', ['--schema-only', '--schema=public', '--no-owner', '--no-privileges', u.toString()], {
    maxBuffer: 64 * 1024 * 1024,
  });
  // Comments name the dump's versions; \restrict lines carry a random key per run.
  return stdout
    .split('\n')
    .filter((line) => !line.startsWith('--') && !line.startsWith('\\'))
    .join('\n');
}
