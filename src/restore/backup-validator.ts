import type { Readable } from 'node:stream';
import { readBackup, type BackupEvent, type BackupReadLimits, type ReadBackupOptions } from '../backup/format/backup-reader';
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

/** What a read of a backup has shown so far: the header (and so the plan) first, the rest at the end. */
export interface BackupCheck {
  header?: BackupHeader;
  plan?: RestorePlan;
  /** Set once the whole file passed. */
  validated?: ValidatedBackup;
}

/**
 * How a backup is read for its checks. A stored backup is held to the checksum recorded when Kiln
 * wrote it: its rows are row_to_json's, so one row per table shows the columns. An upload has only
 * its own checksum, which whoever made the file could have made to fit: every row is parsed.
 */
export function checkedReadOptions(expectedChecksum: string | null, limits: BackupReadLimits): ReadBackupOptions {
  return { ...limits, parseRows: expectedChecksum ? 'firstOfEachTable' : true };
}

/**
 * The checks of a restore, made on a backup's events as they pass (layout by the reader; tables,
 * columns and checksums here): every event goes on to the caller, the first problem throws. The
 * end event is passed on only when the whole file passed; `found` tells what was seen. Column
 * types are checked by PostgreSQL itself when the rows are loaded.
 */
export async function* checkBackupEvents(
  events: AsyncIterable<BackupEvent>,
  catalog: LendingCatalog,
  expectedChecksum: string | null,
  found: BackupCheck,
  onRows: (rows: number) => void = () => undefined,
): AsyncGenerator<BackupEvent> {
  let rows = 0;
  for await (const event of events) {
    if (event.kind === 'header') {
      found.header = event.header;
      found.plan = planRestore(event.header.tables, catalog);
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
      found.validated = {
        header: found.header!,
        plan: found.plan!,
        recordCounts: event.recordCounts,
        checksum: event.checksum,
        rows,
        headerLine: event.headerLine,
        signature: event.signature,
      };
    }
    yield event;
  }
  if (!found.validated) throw new BackupCorruptError('Not a valid Kiln backup: the file ended early');
}

/** A backup reader's failure as the client sees it (BACKUP_CORRUPT for a malformed file); a cancel stays a cancel. */
export function asRestoreError(err: unknown, signal: AbortSignal): unknown {
  if (err instanceof KilnError || signal.aborted) return err;
  return toKilnError(err) ?? err;
}

/**
 * Reads a whole backup through the checks of a restore without touching any data (inspectUpload).
 * A file past one of `limits` (a bomb, or a genuine file too large for them) is BACKUP_CORRUPT
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
  const found: BackupCheck = {};
  try {
    for await (const event of checkBackupEvents(readBackup(input, checkedReadOptions(expectedChecksum, limits)), catalog, expectedChecksum, found, onRows)) {
      void event;
      signal.throwIfAborted();
    }
    return found.validated!;
  } catch (err) {
    throw asRestoreError(err, signal);
  } finally {
    input.destroy();
  }
}

/**
 * The header of a backup, read and held to the restore's checks, and the file closed again:
 * a file that is no backup, or one of tables this database lacks, is refused before anything
 * else starts (the rest is checked as the restore loads it).
 */
export async function readRestoreHeader(input: Readable, catalog: LendingCatalog, signal: AbortSignal, limits: BackupReadLimits = {}): Promise<Required<Pick<BackupCheck, 'header' | 'plan'>>> {
  try {
    const opened = await openCheckedBackup(input, catalog, null, limits);
    opened.close();
    return { header: opened.found.header!, plan: opened.plan };
  } catch (err) {
    throw asRestoreError(err, signal);
  }
}

/** A backup opened for a restore's one pass: the header read and checked, the rest still to come. */
export interface CheckedBackup {
  plan: RestorePlan;
  /** The events after the header, each checked as it passes (see checkBackupEvents). */
  events: AsyncIterable<BackupEvent>;
  /** `validated` is set once every event passed. */
  found: BackupCheck;
  close(): void;
}

/** Opens `input` for a restore's one pass: reads its header (the plan), leaves the rest to the loader. */
export async function openCheckedBackup(input: Readable, catalog: LendingCatalog, expectedChecksum: string | null, limits: BackupReadLimits = {}): Promise<CheckedBackup> {
  const found: BackupCheck = {};
  const events = checkBackupEvents(readBackup(input, checkedReadOptions(expectedChecksum, limits)), catalog, expectedChecksum, found)[Symbol.asyncIterator]();
  const close = () => {
    void events.return?.(undefined).catch(() => undefined);
    input.destroy();
  };
  try {
    const first = await events.next();
    if (first.done || first.value.kind !== 'header') throw new BackupCorruptError('Not a valid Kiln backup: the file has no header');
    return { plan: found.plan!, events: { [Symbol.asyncIterator]: () => events }, found, close };
  } catch (err) {
    close();
    throw err;
  }
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
