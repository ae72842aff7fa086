import type { Readable } from 'node:stream';
import { decryptIfEncrypted } from '../../crypto/decrypt-if-encrypted';
import { quoteIdent as ident, quoteLiteral as literal } from '../../db/sql';
import { lendingReferences } from '../../domain/lending-references';
import type { BackupFileFacts } from './backup-file-facts';

/** What the script's header comment says about its source. */
export interface SqlExportHeader {
  source: string;
  createdAt: string | null;
  kilnVersion?: string | null;
  backupId?: string | null;
  checksum: string | null;
  fileSha256: string | null;
  recordCounts: Record<string, number>;
}

/** The header of a file read through by readBackupFileFacts (`kiln file export-sql`). */
export function headerOfFacts(source: string, facts: BackupFileFacts): SqlExportHeader {
  return {
    source,
    createdAt: facts.createdAt,
    kilnVersion: facts.kilnVersion,
    backupId: facts.backupId,
    checksum: facts.checksum.recorded,
    fileSha256: facts.file.sha256,
    recordCounts: Object.fromEntries(facts.tables.map((t) => [t.name, t.rows])),
  };
}
import { BackupFormatError, readBackup, type BackupReadLimits } from './backup-reader';

/** Rows per INSERT: statements of a few hundred KB, which psql and CockroachDB take comfortably. */
const ROWS_PER_STATEMENT = 500;

/**
 * A backup as a plain SQL script for `psql -v ON_ERROR_STOP=1 -f` into an empty lending schema.
 *
 * Each batch of rows is one `INSERT INTO "T" SELECT * FROM json_populate_recordset(NULL::"T", '…')`
 * of the rows exactly as the file holds them (PostgreSQL's own row_to_json), so every value is
 * converted by the database's own JSON-to-column rules, the ones Kiln's restore loads with, and no
 * literal is spelled by hand. json_populate_recordset is in PostgreSQL (9.3+) and CockroachDB.
 * One transaction per table (none for an empty one), tables parents first: a file whose table
 * comes before one it refers to is refused (Kiln's and the app's own files are in dependency order).
 * A table that refers to itself ("User"."supervisorId") is loaded with those columns empty and
 * then given them by UPDATE in the same transaction, so a row may come before the row it points
 * at; only those (id, reference) pairs are held in memory. A restore ends every session, so the
 * script does too. `about` fills the header comment (from a first read of the file, or from the backup's record).
 */
export async function* sqlExport(
  input: Readable,
  about: SqlExportHeader,
  options: { readKeys: readonly Buffer[]; limits?: BackupReadLimits; rowsPerStatement?: number },
): AsyncGenerator<string> {
  const rowsPerStatement = options.rowsPerStatement ?? ROWS_PER_STATEMENT;
  yield [
    `-- Kiln backup ${oneLine(about.source)} as SQL, for an empty lending schema: psql -v ON_ERROR_STOP=1 -f this-file`,
    `-- written ${about.createdAt ?? 'at an unknown time'}${about.kilnVersion ? ` by Kiln ${oneLine(about.kilnVersion)}` : ''}${about.backupId ? `, backup ${oneLine(about.backupId)}` : ''}`,
    `-- data checksum (sha256) ${about.checksum ?? 'not recorded'}; file sha256 ${about.fileSha256 ?? 'not recorded'}`,
    ...Object.entries(about.recordCounts).map(([table, rows]) => `--   ${oneLine(table)}: ${rows} rows`),
    '',
    // As pg_dump's scripts do: the row literals double only their quotes (quoteLiteral), which reads
    // right only with this on. It is the default, but a role or a server may have it off, and then
    // every backslash in the rows' JSON would be read as an escape: other data, or none at all.
    'SET standard_conforming_strings = on;',
    '',
    '',
  ].join('\n');

  const references = lendingReferences();
  const written = new Set<string>();
  let table: string | undefined;
  let selfColumns: string[] = [];
  let selfLinks: string[] = [];
  let open = false;
  let batch: string[] = [];
  const begin = function* (): Generator<string> {
    if (!open) yield `BEGIN;\n`;
    open = true;
  };
  const flush = function* (): Generator<string> {
    if (batch.length === 0) return;
    yield* begin();
    const rows = literal(`[${batch.join(',')}]`);
    // jsonb for the removal: its numbers are exact, and a removed key populates as NULL.
    const source = selfColumns.length
      ? `jsonb_populate_recordset(NULL::${ident(table!)}, (SELECT jsonb_agg(e${selfColumns.map((c) => ` - ${literal(c)}`).join('')}) FROM jsonb_array_elements(${rows}::jsonb) e))`
      : `json_populate_recordset(NULL::${ident(table!)}, ${rows})`;
    yield `INSERT INTO ${ident(table!)} SELECT * FROM ${source};\n`;
    batch = [];
  };
  const linkSelf = function* (): Generator<string> {
    for (let at = 0; at < selfLinks.length; at += rowsPerStatement) {
      yield* begin();
      const set = selfColumns.map((c) => `${ident(c)} = s.${ident(c)}`).join(', ');
      yield `UPDATE ${ident(table!)} AS t SET ${set} FROM json_populate_recordset(NULL::${ident(table!)}, ${literal(`[${selfLinks.slice(at, at + rowsPerStatement).join(',')}]`)}) AS s WHERE t.id = s.id;\n`;
    }
    selfLinks = [];
  };
  const plain = await decryptIfEncrypted(input, options.readKeys);
  for await (const event of readBackup(plain, { ...options.limits, parseRows: false })) {
    if (event.kind === 'table') {
      const own = references.filter((r) => r.table === event.name);
      const later = [...new Set(own.filter((r) => r.references !== event.name && !written.has(r.references)).map((r) => r.references))];
      if (later.length) throw new BackupFormatError(`table ${event.name} comes before ${later.join(', ')}, which it refers to: this file cannot be exported in dependency order`);
      written.add(event.name);
      table = event.name;
      selfColumns = own.filter((r) => r.references === event.name).map((r) => r.column);
      open = false;
    } else if (event.kind === 'row') {
      if (selfColumns.length) {
        const row = JSON.parse(event.json) as Record<string, unknown>;
        if (selfColumns.some((c) => row[c] != null)) selfLinks.push(JSON.stringify(Object.fromEntries(['id', ...selfColumns].map((c) => [c, row[c] ?? null]))));
      }
      batch.push(event.json);
      if (batch.length >= rowsPerStatement) yield* flush();
    } else if (event.kind === 'tableEnd') {
      yield* flush();
      yield* linkSelf();
      if (open) yield `COMMIT;\n`;
    }
  }
  if ('StaffSession' in about.recordCounts) {
    yield `-- As after a Kiln restore: everybody signs in again.\nUPDATE "StaffSession" SET "revokedAt" = CURRENT_TIMESTAMP WHERE "revokedAt" IS NULL;\n`;
  }
}

// A comment line stays one line whatever a name holds.
const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');
