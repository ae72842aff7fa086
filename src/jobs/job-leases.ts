import type { DataSource, EntityManager } from 'typeorm';
import { query, queryOne, updateReturning } from '../db/sql';
import { ConflictError } from '../errors/kiln-errors';
import { EXCLUSIVE_KINDS, JobKind } from './job.enums';

export const EXCLUSIVE_LEASE = 'exclusive-job';
/** How many jobs may wait for one lease: beyond it a queue is a pile, and a new one gets CONFLICT. */
export const MAX_QUEUED_PER_LEASE = 20;
/** RETENTION runs beside backups and restores, but never twice at once. */
export const RETENTION_LEASE = 'retention-job';

/** The lease a job of this kind holds while it runs (one holder across all instances), if any. */
export function leaseFor(kind: JobKind): string | null {
  if (EXCLUSIVE_KINDS.has(kind)) return EXCLUSIVE_LEASE;
  if (kind === JobKind.RETENTION) return RETENTION_LEASE;
  return null;
}

/** The kinds that hold `lease`: the jobs that queue for it. */
export function kindsHolding(lease: string): JobKind[] {
  return Object.values(JobKind).filter((kind) => leaseFor(kind) === lease);
}

/** Who has a lease now, and which queued job comes first for it, seen under the lease row's lock. */
export interface LeaseState {
  /** The job holding the lease, while the lease is live (an expired one is free to take over). */
  holder: { jobId: string; kind: string | null } | null;
  /** The oldest QUEUED job of the lease's kinds, on any instance. */
  firstQueued: string | null;
  /** How many jobs are QUEUED for the lease. */
  queued: number;
}

/** CONFLICT naming what stands in the way of a job that wants `state`'s lease now. */
export function busyConflict(state: LeaseState): ConflictError {
  if (state.holder) {
    const { jobId, kind } = state.holder;
    return new ConflictError(`A ${kind ?? 'BACKUP'} job is running (${jobId}); try again when it has finished`, { runningJobId: jobId });
  }
  return new ConflictError(`Job ${state.firstQueued} is queued to run first; try again when it has started`, { queuedJobId: state.firstQueued });
}

/**
 * The kiln_leases rows: one named lease per kind of exclusivity, held by one job at a time across
 * all instances until `expiresAt`, which its heartbeat keeps renewing. Every decision to take a
 * lease (start now, queue, start a queued job) is made under the lease row's lock, so two
 * instances never both take it and the queue keeps its order.
 */
export class JobLeases {
  constructor(
    private readonly dataSource: DataSource,
    private readonly instanceId: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Locks lease `name`, shows `decide` its state (in the same transaction, for rows written with
   * the decision), and gives the lease to `jobId` when `decide` says true. Returns that answer.
   */
  async decide(name: string, jobId: string, decide: (tx: EntityManager, state: LeaseState) => Promise<boolean>): Promise<boolean> {
    return this.dataSource.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO kiln_leases (name, holder, "jobId", "expiresAt") VALUES ($1, '', NULL, CURRENT_TIMESTAMP) ON CONFLICT (name) DO NOTHING`,
        [name],
      );
      const [lease] = await query<{ jobId: string | null; live: boolean }>(tx, `SELECT "jobId", "expiresAt" > CURRENT_TIMESTAMP AS live FROM kiln_leases WHERE name = $1 FOR UPDATE`, [name]);
      const state = await this.stateOf(tx, name, lease.jobId && lease.live ? lease.jobId : null);
      if (!(await decide(tx, state))) return false;
      await tx.query(
        `UPDATE kiln_leases SET holder = $2, "jobId" = $3, "expiresAt" = CURRENT_TIMESTAMP + $4::float8 * interval '1 second' WHERE name = $1`,
        [name, this.instanceId, jobId, this.ttlMs / 1000],
      );
      return true;
    });
  }

  /** The state of lease `name` now, without locking anything (for a quick refusal). */
  async peek(name: string): Promise<LeaseState> {
    const lease = await queryOne<{ jobId: string }>(
      this.dataSource,
      `SELECT "jobId" FROM kiln_leases WHERE name = $1 AND "jobId" IS NOT NULL AND "expiresAt" > CURRENT_TIMESTAMP`,
      [name],
    );
    return this.stateOf(this.dataSource.manager, name, lease?.jobId ?? null);
  }

  async renew(name: string, jobId: string): Promise<boolean> {
    const rows = await updateReturning(
      this.dataSource,
      `UPDATE kiln_leases SET "expiresAt" = CURRENT_TIMESTAMP + $3::float8 * interval '1 second' WHERE name = $1 AND "jobId" = $2 RETURNING name`,
      [name, jobId, this.ttlMs / 1000],
    );
    return rows.length > 0;
  }

  async release(name: string, jobId: string): Promise<void> {
    await this.dataSource.query(`UPDATE kiln_leases SET "jobId" = NULL, "expiresAt" = CURRENT_TIMESTAMP WHERE name = $1 AND "jobId" = $2`, [name, jobId]);
  }

  /**
   * Frees the leases these (failed) jobs still hold, so the next job need not wait for them: only
   * those expired or held by an instance proven gone (`goneInstanceIds`). One renewed by a live
   * holder stays: its job still runs, and stops at its next heartbeat, when it sees its row failed.
   */
  async releaseHeldBy(jobIds: string[], goneInstanceIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.dataSource.query(
      `UPDATE kiln_leases SET "jobId" = NULL, "expiresAt" = CURRENT_TIMESTAMP
        WHERE "jobId" = ANY($1) AND ("expiresAt" <= CURRENT_TIMESTAMP OR holder = ANY($2))`,
      [jobIds, goneInstanceIds],
    );
  }

  private async stateOf(q: EntityManager, name: string, holderId: string | null): Promise<LeaseState> {
    const holder = holderId ? await queryOne<{ kind: JobKind }>(q, `SELECT kind FROM kiln_jobs WHERE id = $1`, [holderId]) : undefined;
    const first = await queryOne<{ id: string; queued: number }>(
      q,
      `SELECT id, count(*) OVER ()::int AS queued FROM kiln_jobs WHERE status = 'QUEUED' AND kind = ANY($1) ORDER BY "createdAt", id LIMIT 1`,
      [kindsHolding(name)],
    );
    return { holder: holderId ? { jobId: holderId, kind: holder?.kind ?? null } : null, firstQueued: first?.id ?? null, queued: first?.queued ?? 0 };
  }
}
