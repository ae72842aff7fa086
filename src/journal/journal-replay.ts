import type { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { BackupLimitError, DEFAULT_READ_LIMITS, LineSplitter } from '../backup/format/backup-reader';
import { LIMIT_SETTINGS } from '../errors/to-kiln-error';
import type { BackupSigner } from '../backup/format/backup-signature';
import { APP_SCHEMA } from '../db/schemas';
import { quoteIdent } from '../db/sql';
import { BackupCorruptError, BadUserInputError, KilnError } from '../errors/kiln-errors';
import { primaryKeyColumns } from './primary-keys';
import { assertUnbroken, SegmentReader, type JournalEntry, type ReadSegment, type RelationColumn, type RowValues } from './journal-segment';

export interface ReplaySegment {
  /** Names it in errors (its storage key). */
  name: string;
  /** Its lines, decrypted and gunzipped. */
  open(): Promise<Readable>;
}

export interface ReplayOptions {
  /** The base backup's snapshot: the transactions it holds are not replayed. */
  snapshot: string;
  /** Replays transactions committed at or before this instant. */
  at: Date;
  /** One chain's segments in order, from one that starts before the base's snapshot was taken. */
  segments: readonly ReplaySegment[];
  /** Tables the restore replaced: changes of the others (kept as they are now) are not replayed. */
  tables: ReadonlySet<string>;
  signer: BackupSigner;
  signal: AbortSignal;
  /** A segment line's longest (MAX_BACKUP_LINE_BYTES, as for a backup's rows); default DEFAULT_READ_LIMITS'. */
  maxLineBytes?: number;
  onProgress?(transactions: number): void;
}

export interface ReplayResult {
  /** Transactions replayed that changed a table the restore replaces. */
  transactions: number;
  /** Changes applied per table. */
  changes: Record<string, number>;
  /** Commit time of the last transaction replayed (ISO, microseconds), or null when none was. */
  lastCommitAt: string | null;
}

// Consecutive inserts, updates or deletes of one table go as one statement of up to this many rows
// and characters of values (a row may be as long as MAX_BACKUP_LINE_BYTES: 500 such rows would not fit in memory).
const BATCH_ROWS = 500;
const BATCH_CHARS = 4 * 1024 * 1024;
const MAX_PARAMETERS = 65_535;

/**
 * Replays the journal on top of a restored base backup, inside the restore's transaction: every
 * transaction committed at or before `at` that the base's snapshot does not hold, in commit order,
 * change by change as PostgreSQL logged them (values bound as text, never spliced into SQL). Each
 * segment is proven whole and the chain unbroken; any failure throws and the transaction rolls
 * back. It runs while the restore has the foreign keys off (see loadBackupInTransaction), so
 * nothing cascades: every row a cascade changed is in the journal itself.
 */
export async function replayJournal(client: PoolClient, options: ReplayOptions): Promise<ReplayResult> {
  const columns = await tableColumns(client, [...options.tables]);
  const tables = [...options.tables];
  return walkJournal(options, new ChangeApplier(client, options.tables, columns, await otherUniqueIndexes(client, tables), await primaryKeys(client, tables)));
}

/** What replayJournal would replay (transactions, changes per table), read and proven as it reads them; nothing is changed. */
export function previewJournal(options: ReplayOptions): Promise<ReplayResult> {
  return walkJournal(options, new ChangeCounter(options.tables));
}

interface ReplaySink {
  relation(table: string, columns: RelationColumn[], at: string | undefined): void;
  /** `origin` names the change's segment and transaction in an error. */
  change(entry: JournalEntry, counts: Record<string, number>, origin: ChangeOrigin): Promise<void>;
  flush(): Promise<void>;
}

async function walkJournal(options: ReplayOptions, applier: ReplaySink): Promise<ReplayResult> {
  const holds = snapshotHolds(options.snapshot);
  const atMicros = BigInt(options.at.getTime()) * 1000n;
  const read: ReadSegment[] = [];
  const result: ReplayResult = { transactions: 0, changes: {}, lastCommitAt: null };

  // Every segment proven whole and the chain unbroken before anything is applied: an edited
  // segment is BACKUP_CORRUPT, never a database error halfway through.
  for (const segment of options.segments) {
    options.signal.throwIfAborted();
    const reader = new SegmentReader(segment.name, options.signer);
    await readLines(segment, options.maxLineBytes, (line) => reader.push(line));
    read.push(reader.finish());
  }
  assertUnbroken(read);

  for (const segment of options.segments) {
    options.signal.throwIfAborted();
    const pending: JournalEntry[] = [];
    const reader = new SegmentReader(segment.name, options.signer, (entry) => pending.push(entry));
    let transaction: { apply: boolean; at: string; changesBefore: number } | null = null;
    await readLines(segment, options.maxLineBytes, async (line) => {
      reader.push(line);
      for (const entry of pending.splice(0)) {
        if ('relation' in entry) {
          applier.relation(entry.relation.table, entry.relation.columns, transaction?.at);
        } else if ('begin' in entry) {
          const committedAt = isoToMicros(entry.begin.at);
          transaction = { apply: committedAt <= atMicros && !holds(BigInt(entry.begin.xid)), at: entry.begin.at, changesBefore: changeCount(result) };
        } else if ('commit' in entry) {
          // Counted when it changed a table this restore replaces (not, say, only the audit log).
          if (transaction?.apply && changeCount(result) > transaction.changesBefore) {
            result.transactions++;
            result.lastCommitAt = transaction.at;
            options.onProgress?.(result.transactions);
            options.signal.throwIfAborted();
          }
          transaction = null;
        } else if (transaction?.apply) {
          const origin = { segment: segment.name, at: transaction.at };
          await applier.change(entry, result.changes, origin).catch((err: unknown) => {
            throw replayFailure(err, origin);
          });
        }
      }
    });
    reader.finish(); // the same bytes as the first pass, or the store changed them meanwhile
  }
  await applier.flush();
  return result;
}

/**
 * Each line of a segment, no longer than a backup's longest line (MAX_BACKUP_LINE_BYTES: a segment
 * is read before its signature at the end can be checked). A segment that does not gunzip or
 * decrypt is corrupt; a longer line is refused as a backup's is, naming the setting to raise (a
 * genuine row may be that long).
 */
async function readLines(segment: ReplaySegment, maxLineBytes = DEFAULT_READ_LIMITS.maxLineBytes, onLine: (line: string) => void | Promise<void>): Promise<void> {
  const splitter = new LineSplitter(maxLineBytes);
  try {
    for await (const chunk of await segment.open()) {
      for (const line of splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))) if (line !== '') await onLine(line);
    }
    if (splitter.hasPartialLine) throw new BackupCorruptError(`Journal segment ${segment.name} ends in the middle of a line`);
  } catch (err) {
    if (err instanceof KilnError) throw err;
    if (err instanceof BackupLimitError) {
      const setting = LIMIT_SETTINGS[err.limit];
      throw new BackupCorruptError(`Journal segment ${segment.name} was refused: ${err.message}. If it is genuine, raise ${setting}`, { limit: setting });
    }
    if ((err as { code?: string }).code?.startsWith('Z_') || (err as Error).name === 'DecryptionError') {
      throw new BackupCorruptError(`Journal segment ${segment.name} cannot be read: ${(err as Error).message}`);
    }
    throw err;
  }
}

/** A proven journal that the restored data refuse (a row missing, a key taken): the journal does not continue this base. */
interface ChangeOrigin {
  segment: string;
  /** Commit time of the change's transaction. */
  at: string;
}

/** A database error of replaying changes from `first` (to `last`, for a batch) as BACKUP_CORRUPT naming where they are. */
function replayFailure(err: unknown, first: ChangeOrigin, last: ChangeOrigin = first): unknown {
  const code = (err as { code?: string }).code;
  if (err instanceof KilnError || !code || !/^(22|23|42)/.test(code)) return err;
  const where =
    first.segment !== last.segment
      ? `segments ${first.segment} to ${last.segment} (transactions committed ${first.at} to ${last.at})`
      : first.at !== last.at
        ? `segment ${first.segment} (transactions committed ${first.at} to ${last.at})`
        : `segment ${first.segment} (a transaction committed ${first.at})`;
  return new BackupCorruptError(`Replaying the journal failed in ${where}: ${(err as Error).message}`);
}

/** Whether a pg_current_snapshot() text holds (sees as committed) a committed transaction's 64-bit id. */
export function snapshotHolds(snapshot: string): (xid: bigint) => boolean {
  const match = /^(\d+):(\d+):((?:\d+,)*\d+)?$/.exec(snapshot);
  if (!match) throw new BackupCorruptError(`The base backup's snapshot ${JSON.stringify(snapshot)} is not a PostgreSQL snapshot`);
  const [xmin, xmax] = [BigInt(match[1]), BigInt(match[2])];
  const running = new Set((match[3] ?? '').split(',').filter(Boolean));
  return (xid) => xid < xmin || (xid < xmax && !running.has(xid.toString()));
}

function changeCount(result: ReplayResult): number {
  let n = 0;
  for (const table in result.changes) n += result.changes[table];
  return n;
}

function isoToMicros(iso: string): bigint {
  const match = /^(.*\.\d{3})(\d{3})Z$/.exec(iso);
  const ms = Date.parse(match ? `${match[1]}Z` : iso);
  if (Number.isNaN(ms)) throw new BackupCorruptError(`A journal commit time ${JSON.stringify(iso)} is not a time`);
  return BigInt(ms) * 1000n + BigInt(match ? match[2] : '0');
}

interface TableColumn {
  type: number;
  /**
   * Its type as SQL names it, without its length or precision (format_type(type, NULL)), to cast a
   * batch's text values to: assigning to the column then checks them as a one-row UPDATE does
   * (an explicit cast to varchar(3) would cut a longer value instead of refusing it).
   */
  sqlType: string;
}

/** Per table: whether it has a unique or exclusion index besides its primary key. */
type UniqueIndexes = Map<string, boolean>;

/**
 * The tables with a unique or exclusion index besides the primary key (User's email, a loan's
 * number): a batch of their updates is applied in the table's order, not the journal's, so two
 * users trading emails can clash in between (the indexes exist again when the journal is replayed,
 * checked row by row). Such a batch falls back to one row at a time on a clash.
 */
async function otherUniqueIndexes(client: PoolClient, tables: string[]): Promise<UniqueIndexes> {
  const { rows } = await client.query<{ table: string }>(
    `SELECT DISTINCT c.relname AS "table" FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
      WHERE c.relnamespace = '${APP_SCHEMA}'::regnamespace AND c.relname = ANY($1) AND (i.indisunique OR i.indisexclusion) AND NOT i.indisprimary`,
    [tables],
  );
  return new Map(rows.map((r) => [r.table, true]));
}

/** Per table, its primary key's columns in order. */
async function primaryKeys(client: PoolClient, tables: string[]): Promise<Map<string, string[]>> {
  const keys = await primaryKeyColumns(client, tables.map((t) => `${quoteIdent(APP_SCHEMA)}.${quoteIdent(t)}`));
  return new Map(keys.map((k) => [k.table, k.columns]));
}

async function tableColumns(client: PoolClient, tables: string[]): Promise<Map<string, Map<string, TableColumn>>> {
  const { rows } = await client.query<{ table: string; name: string; type: number; sqlType: string }>(
    `SELECT c.relname AS "table", a.attname AS name, a.atttypid::int AS type, format_type(a.atttypid, NULL) AS "sqlType"
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = '${APP_SCHEMA}'::regnamespace AND c.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [tables],
  );
  const byTable = new Map<string, Map<string, TableColumn>>();
  for (const row of rows) {
    if (!byTable.has(row.table)) byTable.set(row.table, new Map());
    byTable.get(row.table)!.set(row.name, { type: row.type, sqlType: row.sqlType });
  }
  return byTable;
}

/** Counts the changes a replay would apply. */
class ChangeCounter implements ReplaySink {
  constructor(private readonly tables: ReadonlySet<string>) {}

  relation(): void {}

  async change(entry: JournalEntry, counts: Record<string, number>): Promise<void> {
    const touched = 'insert' in entry ? [entry.insert] : 'update' in entry ? [entry.update] : 'delete' in entry ? [entry.delete] : 'truncate' in entry ? entry.truncate : [];
    for (const table of touched) if (this.tables.has(table)) counts[table] = (counts[table] ?? 0) + 1;
  }

  async flush(): Promise<void> {}
}

/** Applies changes to the replaced tables; consecutive changes of one kind to one table are sent together. */
class ChangeApplier implements ReplaySink {
  private readonly keys = new Map<string, string[]>();
  private readonly shapes = new Map<string, { logged: RelationColumn[]; at: string | undefined; checked: boolean }>();
  /**
   * Consecutive inserts into one table (their rows), updates of one table's rows (their new values,
   * key included) or deletes from one table (their keys), sent as one statement of `rows`. One
   * statement updates a row once: a row updated again takes its place in `rows` with its last values
   * (`keys`: where each key's row is), while `changes` keeps every update in the journal's order.
   * A hot row (a balance, a counter) updated thousands of times costs a few statements, not one
   * each: inside the restore's one transaction, each UPDATE of a row walks every version of it the
   * transaction made before, so one statement a change grew as their square (18,000 updates of
   * one row: ~60 s in the bench). The final rows are the same; a superseded value is never sent, so
   * one that only a constraint added since would refuse (a CHECK, a narrower column) no longer fails
   * the replay.
   */
  private batch: {
    kind: BatchKind;
    table: string;
    columns: string[];
    rows: RowValues[];
    changes: RowValues[];
    chars: number;
    keys: Map<string, number>;
    keyColumns: string[];
    first: ChangeOrigin;
    last: ChangeOrigin;
  } | null = null;

  constructor(
    private readonly client: PoolClient,
    private readonly tables: ReadonlySet<string>,
    private readonly columns: Map<string, Map<string, TableColumn>>,
    private readonly uniqueIndexes: UniqueIndexes,
    private readonly primaryKeys: Map<string, string[]>,
  ) {}

  /**
   * A table's columns as the journal logged them; checked against the table's columns now before a
   * change of it is replayed. Rows are found by the key the server logged them with (the replica
   * identity), except when that is every column (REPLICA IDENTITY FULL, say set by hand while the
   * journal ran): then by the primary key, as a row's nulls and JSON never compare equal.
   */
  relation(table: string, logged: RelationColumn[], at: string | undefined): void {
    const identity = logged.filter((c) => c.key).map((c) => c.name);
    const primaryKey = this.primaryKeys.get(table);
    const full = identity.length === logged.length && primaryKey?.every((c) => identity.includes(c));
    this.keys.set(table, full ? primaryKey! : identity);
    this.shapes.set(table, { logged, at, checked: false });
  }

  /** A logged key (or, under REPLICA IDENTITY FULL, a whole old row) as the values of the table's key columns. */
  private keyPart(table: string, logged: RowValues): RowValues {
    const columns = this.keys.get(table) ?? [];
    if (columns.length === 0 || !columns.every((c) => c in logged)) return logged;
    return Object.fromEntries(columns.map((c) => [c, logged[c]]));
  }

  private assertShape(table: string): void {
    const shape = this.shapes.get(table);
    if (!shape) throw new BackupCorruptError(`The journal changes "${table}" without stating its columns first`);
    if (shape.checked) return;
    const now = this.columns.get(table)!;
    const differences: string[] = [];
    for (const column of shape.logged) {
      const current = now.get(column.name);
      if (!current) differences.push(`"${column.name}" is gone`);
      else if (current.type !== column.type) differences.push(`"${column.name}" changed type`);
    }
    for (const name of now.keys()) if (!shape.logged.some((c) => c.name === name)) differences.push(`"${name}" was added`);
    if (differences.length > 0) {
      throw new BadUserInputError(
        `The journal crosses a change of "${table}"'s columns${shape.at ? ` (around ${shape.at})` : ''}: ${differences.join(', ')}. ` +
          'Choose an instant before the change, or restore a backup taken after it',
      );
    }
    shape.checked = true;
  }

  async change(entry: JournalEntry, counts: Record<string, number>, origin: ChangeOrigin): Promise<void> {
    if ('insert' in entry) {
      if (this.replays(entry.insert, counts)) await this.batched('insert', entry.insert, entry.new, origin);
      return;
    }
    if ('delete' in entry) {
      if (!this.replays(entry.delete, counts)) return;
      // Foreign keys are off during a replay: a cascade happens because the journal holds each row it removed.
      await this.batched('delete', entry.delete, this.keyPart(entry.delete, entry.key), origin);
      return;
    }
    if ('update' in entry) {
      if (!this.replays(entry.update, counts)) return;
      const keyColumns = this.keys.get(entry.update) ?? [];
      const oldKey = entry.key && this.keyPart(entry.update, entry.key);
      // A key changed (the old one differs) or not among the new values: this row alone, by its old key.
      if ((oldKey && Object.keys(oldKey).some((c) => oldKey[c] !== entry.new[c])) || keyColumns.length === 0 || keyColumns.some((c) => !(c in entry.new))) {
        await this.flush();
        await this.updateOne(entry.update, oldKey ?? this.keyOf(entry.update, entry.new), entry.new);
        return;
      }
      await this.batched('update', entry.update, entry.new, origin, JSON.stringify(keyColumns.map((c) => entry.new[c])));
      return;
    }
    await this.flush();
    if ('truncate' in entry) {
      const tables = entry.truncate.filter((t) => this.tables.has(t));
      for (const table of tables) {
        this.assertShape(table);
        this.count(counts, table);
      }
      if (tables.length > 0) await this.client.query(`TRUNCATE ${tables.map((t) => this.name(t)).join(', ')}`);
    }
  }

  /** Adds a row (insert, update) or key (delete) to the batch, sending the batch first when this one cannot join it. */
  private async batched(kind: BatchKind, table: string, row: RowValues, origin: ChangeOrigin, key?: string): Promise<void> {
    const columns = Object.keys(row);
    if (columns.length === 0) throw new BackupCorruptError(`The journal ${kind}s a row of "${table}" without its values`);
    let chars = 0;
    for (const column of columns) chars += row[column]?.length ?? 0;
    const batch = this.batch;
    if (
      batch && batch.kind === kind && batch.table === table && sameColumns(batch.columns, columns) && sameColumns(batch.keyColumns, this.keys.get(table) ?? []) &&
      batch.changes.length < BATCH_ROWS && (batch.rows.length + 1) * columns.length <= MAX_PARAMETERS && batch.chars + chars <= BATCH_CHARS
    ) {
      const at = key === undefined ? undefined : batch.keys.get(key);
      // Updated again: the same columns as before (the batch's), so its last values are all of it.
      if (at !== undefined) batch.rows[at] = row;
      else {
        batch.rows.push(row);
        if (key !== undefined) batch.keys.set(key, batch.rows.length - 1);
      }
      batch.changes.push(row);
      batch.chars += chars;
      batch.last = origin;
      return;
    }
    await this.flush();
    // Its key columns as they were when it began (a relation line may restate them before it is sent).
    const keys = new Map(key === undefined ? [] : [[key, 0]]);
    this.batch = { kind, table, columns, rows: [row], changes: [row], chars, keys, keyColumns: this.keys.get(table) ?? [], first: origin, last: origin };
  }

  private async updateOne(table: string, key: RowValues, values: RowValues): Promise<void> {
    const set = Object.keys(values);
    const where = Object.keys(key);
    const sql = `UPDATE ${this.name(table)} SET ${set.map((c, i) => `${quoteIdent(c)} = $${i + 1}`).join(', ')} WHERE ${where.map((c, i) => `${quoteIdent(c)} = $${set.length + i + 1}`).join(' AND ')}`;
    const res = await this.client.query(sql, [...set.map((c) => values[c]), ...where.map((c) => key[c])]);
    if (res.rowCount !== 1) throw new BackupCorruptError(`The journal updates a row of "${table}" (${JSON.stringify(key)}) that the restored data lack: the journal does not continue this backup`);
  }

  /** Sends the batch; a batch may span transactions (all are in the restore's one transaction). */
  async flush(): Promise<void> {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    await this.send(batch).catch((err: unknown) => {
      throw replayFailure(err, batch.first, batch.last);
    });
  }

  private async send(batch: NonNullable<ChangeApplier['batch']>): Promise<void> {
    const width = batch.columns.length;
    const tuples = batch.rows.map((_, r) => `(${batch.columns.map((__, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ');
    const parameters = batch.rows.flatMap((row) => batch.columns.map((c) => row[c]));
    const columns = batch.columns.map(quoteIdent).join(', ');
    const table = this.name(batch.table);
    if (batch.kind === 'insert') {
      await this.client.query(`INSERT INTO ${table} (${columns}) VALUES ${tuples}`, parameters);
      return;
    }
    let res;
    if (batch.kind === 'update') {
      // Text values cast to each column's type, as a one-row UPDATE's parameters are typed by their column.
      const types = this.columns.get(batch.table)!;
      const typed = batch.rows.map((_, r) => `(${batch.columns.map((c, i) => `$${r * width + i + 1}::${types.get(c)!.sqlType}`).join(', ')})`).join(', ');
      const keyColumns = batch.keyColumns;
      const update = () =>
        this.client.query(
          `UPDATE ${table} AS t SET ${batch.columns.map((c) => `${quoteIdent(c)} = v.${quoteIdent(c)}`).join(', ')}
             FROM (VALUES ${typed}) AS v (${columns}) WHERE ${keyColumns.map((c) => `t.${quoteIdent(c)} = v.${quoteIdent(c)}`).join(' AND ')}`,
          parameters,
        );
      if (!this.uniqueIndexes.get(batch.table)) {
        res = await update();
      } else {
        // The batch visits rows in the table's order, not the journal's: on a table with another unique
        // index (see otherUniqueIndexes) it may clash where the journal's order does not. Then it is
        // undone and its changes applied one at a time, in the journal's order.
        await this.client.query('SAVEPOINT kiln_replay_batch');
        try {
          res = await update();
          await this.client.query('RELEASE SAVEPOINT kiln_replay_batch');
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code !== '23505' && code !== '23P01') throw err;
          await this.client.query('ROLLBACK TO SAVEPOINT kiln_replay_batch');
          await this.client.query('RELEASE SAVEPOINT kiln_replay_batch');
          for (const row of batch.changes) await this.updateOne(batch.table, Object.fromEntries(keyColumns.map((c) => [c, row[c]])), row);
          return;
        }
      }
    } else {
      res = await this.client.query(`DELETE FROM ${table} WHERE (${columns}) IN (${tuples})`, parameters);
    }
    // Every key must reach its own row (a key twice, or one the data lack, reaches fewer).
    if (res.rowCount !== batch.rows.length) {
      throw new BackupCorruptError(
        `The journal ${batch.kind}s ${batch.rows.length - (res.rowCount ?? 0)} row(s) of "${batch.table}" (among ${JSON.stringify(batch.rows.slice(0, 3))}${batch.rows.length > 3 ? ', …' : ''}) that the restored data lack: the journal does not continue this backup`,
      );
    }
  }

  private keyOf(table: string, row: RowValues): RowValues {
    const key: RowValues = {};
    for (const column of this.keys.get(table) ?? []) key[column] = row[column];
    if (Object.keys(key).length === 0) throw new BackupCorruptError(`The journal updates "${table}" without stating its columns first`);
    return key;
  }

  private name(table: string): string {
    if (!this.columns.has(table)) throw new BackupCorruptError(`The journal names "${table}", not a table this restore replaces`);
    return `${quoteIdent(APP_SCHEMA)}.${quoteIdent(table)}`;
  }

  /** Whether a change of `table` is replayed (a table this restore replaces); if so, its columns are checked and the change counted. */
  private replays(table: string, counts: Record<string, number>): boolean {
    if (!this.tables.has(table)) return false;
    this.assertShape(table);
    this.count(counts, table);
    return true;
  }

  private count(counts: Record<string, number>, table: string): void {
    counts[table] = (counts[table] ?? 0) + 1;
  }
}

type BatchKind = 'insert' | 'update' | 'delete';

function sameColumns(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}
