/**
 * Timing hooks for a restore inside a bench child: when the upload was received, the
 * validation pass, the PRE_RESTORE safety backup, the loading statements and the commit of
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
  const validator: { validateBackupFile: (...args: never[]) => Promise<unknown> } = require('../src/restore/backup-validator');
  const validateBackupFile = validator.validateBackupFile;
  validator.validateBackupFile = async (...args: never[]) => {
    marks.validateStart = performance.now();
    try {
      return await validateBackupFile(...args);
    } finally {
      marks.validateEnd = performance.now();
    }
  };
  const backupWithin = backups.backupWithin.bind(backups);
  backups.backupWithin = async (...args: never[]) => {
    marks.safetyStart = performance.now();
    try {
      return await backupWithin(...args);
    } finally {
      marks.safetyEnd = performance.now();
    }
  };

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
