import { query, queryOne, type SqlRunner } from '../db/sql';
import { EXCLUSIVE_LEASE } from './job-runner';
import { JobKind, JobStatus } from './job.enums';

/**
 * Reads of `kiln_jobs` and `kiln_leases` that other modules need, so none of them writes SQL
 * against the jobs' tables. (The runner, in job-runner.ts, owns the writes.) Over any runner:
 * the data source, or a connection of the caller's own (the session reader's lock-bounded pool).
 */
export class JobStore {
  constructor(private readonly db: SqlRunner) {}

  /** Backups a queued or running job reads or writes (kiln_jobs.backupId): nothing may delete them under it. */
  async backupIdsInUse(): Promise<Set<string>> {
    const rows = await query<{ backupId: string }>(
      this.db,
      `SELECT DISTINCT "backupId" FROM kiln_jobs WHERE status = ANY($1) AND "backupId" IS NOT NULL`,
      [[JobStatus.QUEUED, JobStatus.RUNNING]],
    );
    return new Set(rows.map((r) => r.backupId));
  }

  /** The restore running now, by its live lease: a crashed restore's rows do not count. */
  async runningRestoreId(): Promise<string | undefined> {
    const row = await queryOne<{ id: string }>(
      this.db,
      `SELECT j.id FROM kiln_leases l JOIN kiln_jobs j ON j.id = l."jobId"
        WHERE l.name = $1 AND l."expiresAt" > now() AND j.kind = $2 AND j.status = $3`,
      [EXCLUSIVE_LEASE, JobKind.RESTORE, JobStatus.RUNNING],
    );
    return row?.id;
  }

  /** A job holding a live lease on some instance, or undefined when none does. */
  async leaseHolderId(): Promise<string | undefined> {
    const row = await queryOne<{ jobId: string }>(this.db, `SELECT "jobId" FROM kiln_leases WHERE "expiresAt" > CURRENT_TIMESTAMP AND "jobId" IS NOT NULL LIMIT 1`);
    return row?.jobId;
  }
}
