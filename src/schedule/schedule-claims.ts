import type { DataSource } from 'typeorm';
import { query, updateReturning } from '../db/sql';
import { INTERRUPTED_ERROR_CODE } from '../jobs/job.enums';
import type { ScheduleRunKind } from './schedule-run.entity';

export interface ClaimedRun {
  kind: ScheduleRunKind;
  scheduledFor: Date;
}

/** A fire re-run after its backup was interrupted is not re-run again. */
const MAX_ATTEMPTS = 2;

/** The latest claimed scheduled-backup instant (the primary key makes it one index probe). */
// The latest fire of the claim's own kind (a backup or a drill).
const LATEST = `SELECT max(l."scheduledFor") FROM kiln_schedule_runs l WHERE l.kind = r.kind`;

// Timestamps are stored as UTC wall time (timestamp without zone, like the rest of the schema).
const AT = `($2::timestamptz AT TIME ZONE 'UTC')`;

/**
 * The kiln_schedule_runs table: one row per scheduled instant, won by the
 * first INSERT. Plain SQL (no advisory locks, no LISTEN/NOTIFY), so it holds
 * on CockroachDB as well as PostgreSQL.
 */
export class ScheduleClaims {
  constructor(
    private readonly dataSource: DataSource,
    private readonly instanceId: string,
  ) {}

  /** True when this instance's INSERT won the instant; every other instance's is a no-op. */
  async claim(kind: ScheduleRunKind, scheduledFor: Date): Promise<boolean> {
    const rows = await query(
      this.dataSource,
      `INSERT INTO kiln_schedule_runs (kind, "scheduledFor", "claimedBy") VALUES ($1, ${AT}, $3)
       ON CONFLICT (kind, "scheduledFor") DO NOTHING RETURNING kind`,
      [kind, scheduledFor.toISOString(), this.instanceId],
    );
    return rows.length === 1;
  }

  /**
   * True when a run of `kind` covers the instant: one claimed for it or a later
   * instant, or one claimed (started) at or after it, such as a catch-up run.
   */
  async coveredSince(kind: ScheduleRunKind, at: Date): Promise<boolean> {
    const rows = await query(
      this.dataSource,
      `SELECT 1 FROM kiln_schedule_runs WHERE kind = $1 AND ("scheduledFor" >= ${AT} OR "claimedAt" >= ${AT}) LIMIT 1`,
      [kind, at.toISOString()],
    );
    return rows.length > 0;
  }

  /** Links the claim to what it started; false when the claim is no longer ours. */
  async recordRun(kind: ScheduleRunKind, scheduledFor: Date, run: { jobId: string | null; backupId: string | null }): Promise<boolean> {
    const rows = await updateReturning(
      this.dataSource,
      `UPDATE kiln_schedule_runs SET "jobId" = $4, "backupId" = $5
        WHERE kind = $1 AND "scheduledFor" = ${AT} AND "claimedBy" = $3 RETURNING kind`,
      [kind, scheduledFor.toISOString(), this.instanceId, run.jobId, run.backupId],
    );
    return rows.length === 1;
  }

  /**
   * Takes over the latest scheduled backup (or drill) if its instance died before it
   * started anything: no job, no backup, not renewed for `ttlMs`. The UPDATE
   * decides who wins. Only the latest fire: an older one is covered by the
   * fires after it, and history is never replayed. (A daily retention run lost
   * that way is left to the next.)
   */
  async takeOverStale(ttlMs: number): Promise<ClaimedRun[]> {
    return updateReturning(
      this.dataSource,
      `UPDATE kiln_schedule_runs r SET "claimedBy" = $1, "claimedAt" = CURRENT_TIMESTAMP
        WHERE r.kind IN ('BACKUP', 'DRILL') AND r."scheduledFor" = (${LATEST})
          AND r."jobId" IS NULL AND r."backupId" IS NULL
          AND r."claimedAt" < CURRENT_TIMESTAMP - $2::float8 * interval '1 second'
        RETURNING r.kind, r."scheduledFor"`,
      [this.instanceId, ttlMs / 1000],
    );
  }

  /**
   * Re-claims the latest scheduled backup (or drill) if its job was interrupted (its
   * gateway died or stopped mid-way), once, so the fire still produces a backup (or a drill's result).
   */
  async takeOverInterrupted(): Promise<ClaimedRun[]> {
    return updateReturning(
      this.dataSource,
      `UPDATE kiln_schedule_runs r
          SET "claimedBy" = $1, "claimedAt" = CURRENT_TIMESTAMP, attempts = r.attempts + 1, "jobId" = NULL, "backupId" = NULL
         FROM kiln_jobs j
        WHERE r."jobId" = j.id AND r.kind IN ('BACKUP', 'DRILL') AND r."scheduledFor" = (${LATEST}) AND r.attempts < $2
          AND j.status = 'FAILED' AND j."errorCode" = $3
        RETURNING r.kind, r."scheduledFor"`,
      [this.instanceId, MAX_ATTEMPTS, INTERRUPTED_ERROR_CODE],
    );
  }
}
