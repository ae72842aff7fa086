import type { Readable } from 'node:stream';
import { readBackup, type BackupReadLimits } from '../backup/format/backup-reader';
import type { BackupSignature } from '../backup/format/backup-signature';
import type { BackupHeader } from '../backup/format/backup-writer';
import { BackupCorruptError, BadUserInputError, KilnError } from '../errors/kiln-errors';
import { toKilnError } from '../errors/to-kiln-error';
import type { ColumnKind, LendingCatalog } from './lending-catalog';
import { planRestore, type RestorePlan } from './restore-plan';

export interface ValidatedBackup {
  header: BackupHeader;
  plan: RestorePlan;
  recordCounts: Record<string, number>;
  checksum: string;
  rows: number;
  /** What the signature covers, and the signature if the file has one (see BackupSigner). */
  headerLine?: string;
  signature?: BackupSignature;
}

/**
 * The first, read-only pass of a restore: the whole file is checked (layout,
 * checksum, tables, columns) before any data is touched. Column types are
 * checked by PostgreSQL itself when the rows are staged. A file past one of
 * `limits` (a bomb, or a genuine file too large for them) is BACKUP_CORRUPT
 * with a message naming the setting to raise.
 */
export async function validateBackupFile(
  input: Readable,
  catalog: LendingCatalog,
  expectedChecksum: string | null,
  onRows: (rows: number) => void,
  signal: AbortSignal,
  limits: BackupReadLimits = {},
): Promise<ValidatedBackup> {
  let header: BackupHeader | undefined;
  let plan: RestorePlan | undefined;
  let rows = 0;
  try {
    // A stored backup is held to the checksum recorded when Kiln wrote it (checked at the end, before
    // anything is touched): its rows are row_to_json's, so one row per table shows the columns.
    // An upload has only its own checksum, which whoever made the file could have made to fit.
    for await (const event of readBackup(input, { ...limits, parseRows: expectedChecksum ? 'firstOfEachTable' : true })) {
      signal.throwIfAborted();
      if (event.kind === 'header') {
        header = event.header;
        plan = planRestore(header.tables, catalog);
      } else if (event.kind === 'row') {
        if (event.parsed) checkColumns(event.table, event.value, catalog, rows);
        if (++rows % 10_000 === 0) onRows(rows);
      } else if (event.kind === 'end') {
        if (event.checksum !== event.computedChecksum) {
          throw new BackupCorruptError('The backup data does not match its checksum: the file was changed or damaged', {
            expected: event.checksum,
            actual: event.computedChecksum,
          });
        }
        if (expectedChecksum && event.checksum !== expectedChecksum) {
          throw new BackupCorruptError('The file’s checksum differs from the one recorded when the backup was made', {
            expected: expectedChecksum,
            actual: event.checksum,
          });
        }
        onRows(rows);
        return {
          header: header!,
          plan: plan!,
          recordCounts: event.recordCounts,
          checksum: event.checksum,
          rows,
          headerLine: event.headerLine,
          signature: event.signature,
        };
      }
    }
  } catch (err) {
    if (err instanceof KilnError || signal.aborted) throw err;
    throw toKilnError(err) ?? err;
  } finally {
    input.destroy();
  }
  throw new BackupCorruptError('Not a valid Kiln backup: the file ended early');
}

function checkColumns(table: string, row: Record<string, unknown>, catalog: LendingCatalog, rowIndex: number): void {
  const columns = catalog.columns.get(table)!;
  for (const [key, value] of Object.entries(row)) {
    const column = columns.get(key);
    if (!column) {
      throw new BadUserInputError(`Table "${table}" in the backup has a column this database does not know: "${key}"`, { table, column: key });
    }
    const problem = valueProblem(column.kind, value);
    if (problem) {
      throw new BadUserInputError(`Table "${table}" in the backup holds ${preview(value)} in "${key}" (row ${rowIndex + 1}): ${problem}`, { table, column: key });
    }
  }
  for (const column of columns.values()) {
    if (column.required && !(column.name in row)) {
      throw new BadUserInputError(`Table "${table}" in the backup lacks the required column "${column.name}" (row ${rowIndex + 1})`, {
        table,
        column: column.name,
      });
    }
  }
}

// What PostgreSQL itself writes (row_to_json) and Prisma writes: ISO 8601, optionally with a zone;
// also PostgreSQL's infinities. Not its other spellings ("yesterday", "03/04/2024"), which a file
// cannot mean: they depend on the clock and on DateStyle at restore time.
const TIMESTAMP = /^(\d{4,}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?( BC)?|-?infinity)$/;
// A JSON number, or a decimal as Prisma writes it (a string), or numeric's NaN and infinities.
const NUMBER = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|NaN|-?Infinity)$/;

/** Why a value cannot belong in a column of this kind (PostgreSQL checks the rest when it loads). */
function valueProblem(kind: ColumnKind, value: unknown): string | null {
  if (value === null) return null;
  switch (kind) {
    case 'timestamp':
      return typeof value === 'string' && TIMESTAMP.test(value) ? null : 'not an ISO 8601 timestamp';
    case 'number':
      return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && NUMBER.test(value)) ? null : 'not a number';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'not true or false';
    case 'text':
      return typeof value === 'string' ? null : 'not a string';
    default:
      return null;
  }
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
