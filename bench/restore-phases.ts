/**
 * Timing hooks for a restore inside a bench child: when the upload was received, the
 * header check, the PRE_RESTORE safety backup, the loading statements and the commit of
 * the restore transaction. Shared by restore-child (a stored backup) and upload-restore-child.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';

/** BENCH_TRACE_SQL=1: every statement of the restore transaction but the loading ones, with its duration, on stderr. */
const TRACE_SQL = process.env.BENCH_TRACE_SQL === '1';

export interface Marks {
  uploadEnd?: number;
  validateStart?: number;
  validateEnd?: number;
  safetyStart?: number;
  safetyEnd?: number;
  /** The connection of the restore transaction: the first to run a loading statement after the safety backup. */
  restoreClient?: pg.Client;
  loadEnd?: number;
  loadStatements: number;
  commitStart?: number;
  commitEnd?: number;
}

const span = (from: number | undefined, to: number | undefined) => (from !== undefined && to !== undefined ? (to - from) / 1000 : null);

/** When both the header check and the safety backup had ended (the restore phase starts then). */
export function bothDone(marks: Marks): number | undefined {
  return marks.validateEnd !== undefined && marks.safetyEnd !== undefined ? Math.max(marks.validateEnd, marks.safetyEnd) : undefined;
}

/** The restore's phases in seconds (null where a mark is missing), the job having ended at `ended`. */
export function restorePhaseSeconds(marks: Marks, ended: number) {
  const { validateStart, validateEnd, safetyStart, safetyEnd } = marks;
  const restoreStart = bothDone(marks);
  return {
    validate: span(validateStart, validateEnd),
    safety: span(safetyStart, safetyEnd),
    overlapped:
      validateEnd !== undefined && safetyStart !== undefined && safetyEnd !== undefined && validateStart !== undefined
        ? validateEnd > safetyStart && safetyEnd > validateStart
        : false,
    restore: span(restoreStart, ended),
    load: span(restoreStart, marks.loadEnd),
    loadStatements: marks.restoreClient ? marks.loadStatements / 1000 : null,
    afterLoad: span(marks.loadEnd, marks.commitStart),
    commit: span(marks.commitStart, marks.commitEnd),
  };
}

/** The phase a memory sample at `at` belongs to (`before`: until validation starts). */
export function phaseAt<B extends string>(marks: Marks, at: number, before: B): B | 'validate' | 'safety' | 'load' | 'afterLoad' {
  const restoreStart = bothDone(marks);
  if (marks.loadEnd !== undefined && at > marks.loadEnd) return 'afterLoad';
  if (restoreStart !== undefined && at > restoreStart) return 'load';
  if (marks.safetyStart !== undefined && at > marks.safetyStart) return 'safety';
  if (marks.validateStart !== undefined && at > marks.validateStart) return 'validate';
  return before;
}

/** `fn` with its start and end written to marks[start] and marks[end]. */
function timed<A extends never[], R>(marks: Marks, start: 'validateStart' | 'safetyStart', end: 'validateEnd' | 'safetyEnd', fn: (...args: A) => Promise<R>) {
  return async (...args: A): Promise<R> => {
    marks[start] = performance.now();
    try {
      return await fn(...args);
    } finally {
      marks[end] = performance.now();
    }
  };
}

/** Installs the hooks; the marks fill in as the restore runs. */
export function instrumentRestore(backups: { backupWithin: (...args: never[]) => Promise<unknown> }): Marks {
  const marks: Marks = { loadStatements: 0 };
  // Module objects (compiled CommonJS): restore.service reads these functions from them at each call.
  const receiver: { receiveUpload: (...args: never[]) => Promise<unknown> } = require('../src/restore/upload-receiver');
  const receiveUpload = receiver.receiveUpload;
  receiver.receiveUpload = async (...args: never[]) => {
    try {
      return await receiveUpload(...args);
    } finally {
      marks.uploadEnd = performance.now();
    }
  };
  // The restore's first look at its file (the header); its rows are checked as they load.
  const validator: { readRestoreHeader: (...args: never[]) => Promise<unknown> } = require('../src/restore/backup-validator');
  const readRestoreHeader = validator.readRestoreHeader;
  validator.readRestoreHeader = timed(marks, 'validateStart', 'validateEnd', readRestoreHeader);
  backups.backupWithin = timed(marks, 'safetyStart', 'safetyEnd', backups.backupWithin.bind(backups));

  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function timedQuery(this: pg.Client, ...args: unknown[]) {
    const result = query.apply(this, args);
    if (marks.safetyEnd === undefined) return result;
    const sql = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: unknown } | undefined)?.text ?? '');
    if (typeof sql !== 'string') return result;
    const start = performance.now();
    // A loading statement: batches of rows as JSON (today), or a COPY FROM STDIN stream (pg-copy-streams).
    const loading = sql.includes('json_populate_recordset') || /^\s*COPY\b[\s\S]*\bFROM STDIN/i.test(sql);
    if (!marks.restoreClient && loading) marks.restoreClient = this;
    if (this !== marks.restoreClient) return result;
    const commit = marks.loadEnd !== undefined && marks.commitStart === undefined && /^\s*COMMIT/i.test(sql);
    if (commit) marks.commitStart = start;
    const done = () => {
      const end = performance.now();
      if (loading) {
        marks.loadStatements += end - start;
        marks.loadEnd = end;
      }
      if (commit) marks.commitEnd = end;
      if (TRACE_SQL && !loading) console.error(`[sql ${((end - start) / 1000).toFixed(3)} s] ${sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    };
    if (result instanceof Promise) result.then(done, () => undefined);
    else if (result && typeof (result as NodeJS.EventEmitter).once === 'function') (result as NodeJS.EventEmitter).once('finish', done);
    return result;
  } as typeof pg.Client.prototype.query;
  return marks;
}
