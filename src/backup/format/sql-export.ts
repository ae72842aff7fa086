import type { Readable } from 'node:stream';
import { decryptIfEncrypted } from '../../crypto/decrypt-if-encrypted';
import { LENDING_TABLES } from '../../domain';
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
 * One transaction per table (none for an empty one), tables parents first; a restore ends every session, so the script does too.
 * `about` fills the header comment (from a first read of the file, or from the backup's record).
 */
export async function* sqlExport(input: Readable, about: SqlExportHeader, options: { readKeys: readonly Buffer[]; limits?: BackupReadLimits }): AsyncGenerator<string> {
  yield [
    `-- Kiln backup ${oneLine(about.source)} as SQL, for an empty lending schema: psql -v ON_ERROR_STOP=1 -f this-file`,
    `-- written ${about.createdAt ?? 'at an unknown time'}${about.kilnVersion ? ` by Kiln ${oneLine(about.kilnVersion)}` : ''}${about.backupId ? `, backup ${oneLine(about.backupId)}` : ''}`,
    `-- data checksum (sha256) ${about.checksum ?? 'not recorded'}; file sha256 ${about.fileSha256 ?? 'not recorded'}`,
    ...Object.entries(about.recordCounts).map(([table, rows]) => `--   ${oneLine(table)}: ${rows} rows`),
    '',
    '',
  ].join('\n');

  let order = -1;
  let table: string | undefined;
  let open = false;
  let batch: string[] = [];
  const flush = function* (): Generator<string> {
    if (batch.length === 0) return;
    if (!open) yield `BEGIN;\n`;
    open = true;
    yield `INSERT INTO ${ident(table!)} SELECT * FROM json_populate_recordset(NULL::${ident(table!)}, ${literal(`[${batch.join(',')}]`)});\n`;
    batch = [];
  };
  const plain = await decryptIfEncrypted(input, options.readKeys);
  for await (const event of readBackup(plain, { ...options.limits, parseRows: false })) {
    if (event.kind === 'table') {
      const at = (LENDING_TABLES as readonly string[]).indexOf(event.name);
      // Kiln writes parents first; a file in another order would break foreign keys half-way.
      if (at < order) throw new BackupFormatError(`table ${event.name} comes after a table that refers to it: this file cannot be exported in dependency order`);
      order = at;
      table = event.name;
      open = false;
    } else if (event.kind === 'row') {
      batch.push(event.json);
      if (batch.length >= ROWS_PER_STATEMENT) yield* flush();
    } else if (event.kind === 'tableEnd') {
      yield* flush();
      if (open) yield `COMMIT;\n`;
    }
  }
  if ('StaffSession' in about.recordCounts) {
    yield `-- As after a Kiln restore: everybody signs in again.\nUPDATE "StaffSession" SET "revokedAt" = CURRENT_TIMESTAMP WHERE "revokedAt" IS NULL;\n`;
  }
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
// standard_conforming_strings is on in PostgreSQL since 9.1 and always in CockroachDB: only quotes are doubled.
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
// A comment line stays one line whatever a name holds.
const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');
