/**
 * Writes backups the way the lending app does ("format 1.0", shared/reference/README.md), so
 * tests can hand Kiln a file the app would have made: for each data key in order, the
 * table's rows as Prisma findMany() serialises them; metadata {version, createdAt,
 * systemVersion, recordCounts}; checksum = sha256 of the compact JSON.stringify({ metadata,
 * data }); then metadata.checksum added and the file written with JSON.stringify(obj, null, 2).
 * Holds the document in memory: test data is small.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Client } from 'pg';
import { APP_DATA_KEYS } from '../../src/backup/format/app-backup-reader';

export type AppRow = Record<string, unknown>;

export interface AppBackupDocument {
  metadata: {
    version: string;
    createdAt: string;
    systemVersion: string;
    recordCounts: Record<string, number>;
    checksum?: string;
    [key: string]: unknown;
  };
  data: Record<string, AppRow[]>;
  [key: string]: unknown;
}

export interface AppBackupOptions {
  /** false (the app's default when not asked): auditLogs is written as an empty array. */
  includeAuditLogs?: boolean;
  /** false (the app's default when not asked): staffSessions is written as an empty array. */
  includeSessions?: boolean;
  /** Default: now. */
  createdAt?: string;
}

export interface WriteAppBackupOptions extends AppBackupOptions {
  /** Changes the finished (signed) document before it is written: to make bad files. */
  mutate?: (doc: AppBackupDocument) => void;
  /** After mutate: compute the checksum again over the changed document (to reach the checks past it). */
  resign?: boolean;
  /** The schema holding the lending tables; default public. */
  schema?: string;
}

/** The app's checksum: sha256 hex of the compact JSON of { metadata without checksum, data }, key order as it stands. */
export function appChecksum(doc: { metadata: Record<string, unknown>; data: unknown }): string {
  const { checksum: _, ...metadata } = doc.metadata;
  return createHash('sha256').update(JSON.stringify({ metadata, data: doc.data })).digest('hex');
}

/** Adds (or replaces, keeping its place) metadata.checksum, computed as the app does. */
export function signAppBackup(doc: AppBackupDocument): AppBackupDocument {
  doc.metadata.checksum = appChecksum(doc);
  return doc;
}

/**
 * A signed document from rows per data key (keys the caller leaves out are empty arrays),
 * built as the app builds it: data keys in the app's order, auditLogs/staffSessions empty
 * unless included, counts per key, then the checksum.
 */
export function appBackupDocument(rows: Partial<Record<string, AppRow[]>>, options: AppBackupOptions = {}): AppBackupDocument {
  const data: Record<string, AppRow[]> = {};
  for (const key of Object.keys(APP_DATA_KEYS)) {
    const excluded = (key === 'auditLogs' && !options.includeAuditLogs) || (key === 'staffSessions' && !options.includeSessions);
    data[key] = excluded ? [] : (rows[key] ?? []);
  }
  const recordCounts: Record<string, number> = {};
  for (const [key, list] of Object.entries(data)) recordCounts[key] = list.length;
  const metadata = { version: '1.0', createdAt: options.createdAt ?? new Date().toISOString(), systemVersion: '1.0.0', recordCounts };
  return signAppBackup({ metadata, data });
}

/** The file's text: the app writes JSON.stringify(obj, null, 2). */
export function appBackupText(doc: AppBackupDocument): string {
  return JSON.stringify(doc, null, 2);
}

export interface Column {
  name: string;
  /** pg_type.typname of the column (or its domain's base type). */
  type: string;
  isEnum: boolean;
  isArray: boolean;
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function columnsOf(client: Client, schema: string, table: string): Promise<Column[]> {
  const { rows } = await client.query<{ name: string; type: string; typtype: string; typcategory: string }>(
    `SELECT a.attname AS name,
            CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END AS type,
            CASE WHEN t.typtype = 'd' THEN bt.typtype ELSE t.typtype END AS typtype,
            t.typcategory
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, table],
  );
  if (rows.length === 0) throw new Error(`writeAppBackupFile: table ${schema}.${table} does not exist`);
  return rows.map((r) => ({ name: r.name, type: r.type, isEnum: r.typtype === 'e', isArray: r.typcategory === 'A' }));
}

/** The SQL that selects a column as text in the form its conversion expects. */
export function selectExpression(column: Column): string {
  const c = q(column.name);
  switch (column.type) {
    case 'timestamp':
      // Prisma reads timestamp(3) as UTC and gives a Date: toISOString() has ms and Z.
      return `to_char(${c}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    case 'timestamptz':
      return `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    case 'date':
      return `to_char(${c}, 'YYYY-MM-DD"T00:00:00.000Z"')`;
    default:
      return `${c}::text`;
  }
}

/** A column's text as Prisma's findMany() result serialises under JSON.stringify. */
export function prismaValue(column: Column, text: string | null, table: string): unknown {
  if (text === null) return null;
  if (column.isArray) throw new Error(`writeAppBackupFile: ${table}.${column.name} is an array column, which the app's schema does not have`);
  if (column.isEnum) return text;
  switch (column.type) {
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'uuid':
    case 'timestamp':
    case 'timestamptz':
    case 'date':
      return text;
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
      // PostgreSQL prints floats in shortest round-trip form (v12+), as Number() wants them.
      return Number(text);
    case 'int8':
      throw new Error(`writeAppBackupFile: ${table}.${column.name} is int8: Prisma gives a BigInt, which the app's JSON.stringify cannot write`);
    case 'numeric':
      return decimalString(text);
    case 'bool':
      return text === 't' || text === 'true';
    case 'json':
    case 'jsonb':
      return JSON.parse(text);
    default:
      throw new Error(`writeAppBackupFile: ${table}.${column.name} has type ${column.type}, which this helper does not serialise`);
  }
}

/**
 * A numeric's text as Prisma's Decimal (decimal.js) toJSON() gives it: no trailing zeros, no
 * trailing point, "0" for zero, exponent notation below 1e-7 and from 1e21 (decimal.js's
 * toExpNeg -7 / toExpPos 21).
 */
export function decimalString(text: string): string {
  if (text === 'NaN') return 'NaN';
  const negative = text.startsWith('-');
  const [intPart, fracPart = ''] = (negative ? text.slice(1) : text).split('.');
  const digits = (intPart + fracPart).replace(/^0+/, '');
  const significant = digits.replace(/0+$/, '');
  if (significant === '') return '0';
  // Exponent of the first significant digit.
  const exponent = intPart.replace(/^0+/, '').length > 0 ? intPart.replace(/^0+/, '').length - 1 : -(fracPart.length - fracPart.replace(/^0+/, '').length) - 1;
  let body: string;
  if (exponent <= -7 || exponent >= 21) {
    body = `${significant[0]}${significant.length > 1 ? `.${significant.slice(1)}` : ''}e${exponent < 0 ? '-' : '+'}${Math.abs(exponent)}`;
  } else if (exponent < 0) {
    body = `0.${'0'.repeat(-exponent - 1)}${significant}`;
  } else if (significant.length <= exponent + 1) {
    body = significant + '0'.repeat(exponent + 1 - significant.length);
  } else {
    body = `${significant.slice(0, exponent + 1)}.${significant.slice(exponent + 1)}`;
  }
  return negative ? `-${body}` : body;
}

/** A table's rows as Prisma's findMany() (no orderBy: the order PostgreSQL returns them in) gives them. */
export async function findManyRows(client: Client, schema: string, table: string): Promise<AppRow[]> {
  const columns = await columnsOf(client, schema, table);
  const { rows } = await client.query<Array<string | null>>({
    text: `SELECT ${columns.map(selectExpression).join(', ')} FROM ${q(schema)}.${q(table)}`,
    rowMode: 'array',
  });
  return rows.map((values) => {
    const row: AppRow = {};
    columns.forEach((column, i) => (row[column.name] = prismaValue(column, values[i], table)));
    return row;
  });
}

/** The signed document for a database's lending tables, as the app's backup service builds it. */
export async function buildAppBackupDocument(client: Client, options: AppBackupOptions & { schema?: string } = {}): Promise<AppBackupDocument> {
  const schema = options.schema ?? 'public';
  const rows: Record<string, AppRow[]> = {};
  for (const [key, table] of Object.entries(APP_DATA_KEYS)) {
    if ((key === 'auditLogs' && !options.includeAuditLogs) || (key === 'staffSessions' && !options.includeSessions)) continue;
    rows[key] = await findManyRows(client, schema, table);
  }
  return appBackupDocument(rows, options);
}

/**
 * Writes a format 1.0 backup of the database's lending tables to `filePath`, as the app
 * would, and returns the document written (after `mutate`, and re-signed if `resign`).
 */
export async function writeAppBackupFile(source: Client | string, filePath: string, options: WriteAppBackupOptions = {}): Promise<AppBackupDocument> {
  const client = typeof source === 'string' ? new Client({ connectionString: source }) : source;
  if (typeof source === 'string') await client.connect();
  try {
    const doc = await buildAppBackupDocument(client, options);
    options.mutate?.(doc);
    if (options.resign) signAppBackup(doc);
    await writeFile(filePath, appBackupText(doc));
    return doc;
  } finally {
    if (typeof source === 'string') await client.end();
  }
}
