import { In, type DataSource } from 'typeorm';
import { newId } from '../db/ids';
import { updateReturning } from '../db/update-returning';
import { ConflictError, ErrorCode, NotFoundError } from '../errors/kiln-errors';
import { toKilnError } from '../errors/to-kiln-error';
import { reportUnexpected } from '../errors/unexpected-error';
import type { Logger } from '../logging/logger';
import type { JobEventBus } from './job-event-bus';
import { Job } from './job.entity';
import { EXCLUSIVE_KINDS, FINISHED_STATUSES, JobKind, JobStatus } from './job.enums';
import { ProgressMeter, type ProgressSnapshot } from './progress-meter';
import type { VerificationReport } from './verification-report.type';

export const EXCLUSIVE_LEASE = 'exclusive-job';
/** Starts the error of a job that stopped because its gateway did, not because of the work itself. */
export const INTERRUPTED = 'interrupted: ';
/** RETENTION runs beside backups and restores, but never twice at once. */
export const RETENTION_LEASE = 'retention-job';

/** The lease a job of this kind holds while it runs (one holder across all instances), if any. */
export function leaseFor(kind: JobKind): string | null {
  if (EXCLUSIVE_KINDS.has(kind)) return EXCLUSIVE_LEASE;
  if (kind === JobKind.RETENTION) return RETENTION_LEASE;
  return null;
}

export interface JobRun {
  job: Job;
  progress: ProgressMeter;
  /** Aborted on cancel, lost lease or shutdown; handlers pass it to every stream. */
  signal: AbortSignal;
  logger: Logger;
  /** Links the job to a backup it wrote on the way (a RESET's safety backup). */
  attachBackup(backupId: string): Promise<void>;
}

export interface JobOutcome {
  message?: string;
  verification?: VerificationReport;
}

export interface JobSpec {
  kind: JobKind;
  requestedById: string | null;
  backupId?: string;
  input?: Record<string, string | number | boolean | null>;
  /** Runs after the lease is taken and before the job exists; a failure releases the lease. */
  prepare?(): Promise<void>;
  run(run: JobRun): Promise<JobOutcome | void>;
}

export class JobCancelledError extends Error {
  constructor(readonly byUser: boolean, message: string) {
    super(message);
  }
}

export interface JobRunnerOptions {
  leaseTtlMs: number;
  heartbeatMs: number;
}

/**
 * Runs jobs in the background of this instance. BACKUP/RESTORE/RESET hold one
 * database lease, so only one of them runs across all instances (RETENTION
 * holds a lease of its own); a lease whose holder stopped renewing it expires
 * and is taken over.
 */
export class JobRunner {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly finishedListeners: Array<(job: Job) => void> = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly jobEvents: JobEventBus,
    private readonly logger: Logger,
    readonly instanceId: string,
    private readonly options: JobRunnerOptions = { leaseTtlMs: 30_000, heartbeatMs: 5_000 },
  ) {}

  /** Creates the job row (RUNNING) and starts it; throws CONFLICT if a job holding the same lease runs. */
  async start(spec: JobSpec): Promise<Job> {
    const id = newId();
    const jobs = this.dataSource.getRepository(Job);
    const lease = leaseFor(spec.kind);
    if (lease) await this.acquireLease(lease, id);
    const now = new Date();
    const job = jobs.create({
      id,
      kind: spec.kind,
      status: JobStatus.RUNNING,
      backupId: spec.backupId ?? null,
      input: spec.input ?? null,
      requestedById: spec.requestedById,
      instanceId: this.instanceId,
      createdAt: now,
      startedAt: now,
      heartbeatAt: now,
      percent: 0,
      rowsDone: 0,
      bytesDone: 0,
      cancelRequested: false,
    });
    try {
      await spec.prepare?.();
      // Heartbeats are the database's clock, whatever this host's clock says (the sweep compares with it).
      await jobs.insert({ ...job, heartbeatAt: () => 'CURRENT_TIMESTAMP' });
    } catch (err) {
      if (lease) await this.releaseLease(lease, id);
      throw err;
    }
    this.publish(job);
    const controller = new AbortController();
    const done = this.execute(job, spec, controller);
    this.running.set(id, { controller, done });
    return job;
  }

  /**
   * CONFLICT now, without taking anything, when a job of `kind` could not start because its
   * lease is held: for callers about to do costly work first (an upload of gigabytes).
   */
  async assertCanStart(kind: JobKind): Promise<void> {
    const lease = leaseFor(kind);
    if (!lease) return;
    const [held] = await this.dataSource.query(
      `SELECT l."jobId", j.kind FROM kiln_leases l LEFT JOIN kiln_jobs j ON j.id = l."jobId"
        WHERE l.name = $1 AND l."jobId" IS NOT NULL AND l."expiresAt" > CURRENT_TIMESTAMP`,
      [lease],
    );
    if (held) {
      throw new ConflictError(`A ${held.kind ?? 'BACKUP'} job is running (${held.jobId}); try again when it has finished`, { runningJobId: held.jobId });
    }
  }

  async get(id: string): Promise<Job | null> {
    return this.dataSource.getRepository(Job).findOneBy({ id });
  }

  async list(status: JobStatus | undefined, limit: number): Promise<Job[]> {
    return this.dataSource.getRepository(Job).find({
      where: status ? { status } : {},
      order: { createdAt: 'DESC' },
      take: limit,
    });
  }

  /** Asks a running job to stop; the instance running it notices within a heartbeat. */
  async cancel(id: string): Promise<Job> {
    const jobs = this.dataSource.getRepository(Job);
    const job = await jobs.findOneBy({ id });
    if (!job) throw new NotFoundError('Job', id);
    if (FINISHED_STATUSES.has(job.status)) {
      throw new ConflictError(`Job ${id} is already ${job.status}: only a running job can be cancelled`, { status: job.status });
    }
    await jobs.update({ id }, { cancelRequested: true });
    this.running.get(id)?.controller.abort(new JobCancelledError(true, 'cancelled by an administrator'));
    return { ...job, cancelRequested: true };
  }

  /**
   * Calls `listener` after each job this instance ran has saved its final row, and for each job of a
   * dead instance this one failed as interrupted (webhooks, health checks); it must not block.
   */
  onJobFinished(listener: (job: Job) => void): void {
    this.finishedListeners.push(listener);
  }

  /** Jobs running on any instance (the database's view) or starting on this one. */
  /** What /metrics reports of the jobs: running per kind, each kind's last outcome, the lease. */
  async metricFacts(): Promise<JobMetricFacts> {
    const [running, last, lease] = await Promise.all([
      this.dataSource.query(`SELECT kind, count(*) AS n FROM kiln_jobs WHERE status = 'RUNNING' GROUP BY kind`),
      this.lastOutcomes(),
      this.dataSource.query(
        `SELECT j.kind, extract(epoch FROM LOCALTIMESTAMP - j."startedAt")::float8 AS "heldSeconds"
           FROM kiln_leases l JOIN kiln_jobs j ON j.id = l."jobId" WHERE l."expiresAt" > LOCALTIMESTAMP`,
      ),
    ]);
    return {
      running: running.map((r: { kind: string; n: string | number }) => ({ kind: r.kind, n: Number(r.n) })),
      last,
      lease: lease.map((l: { kind: string; heldSeconds: string | number }) => ({ kind: l.kind, heldSeconds: Number(l.heldSeconds) })),
    };
  }

  /** Per kind (or of one): the last finished job's outcome (the newest by finish, then id), and when one last succeeded. */
  async lastOutcomes(kind?: JobKind): Promise<KindOutcome[]> {
    const rows = await this.dataSource.query(
      `SELECT l.kind, l.succeeded AS "lastSucceeded", l."finishedAt" AS "lastFinishedAt", l.seconds AS "lastSeconds", l.message AS "lastMessage",
              (SELECT max("finishedAt") FROM kiln_jobs WHERE kind = l.kind AND ${SUCCEEDED}) AS "lastSuccessAt"
         FROM (SELECT DISTINCT ON (kind) kind, ${SUCCEEDED} AS succeeded, "finishedAt",
                      extract(epoch FROM "finishedAt" - "startedAt")::float8 AS seconds, coalesce(error, message) AS message
                 FROM kiln_jobs WHERE "finishedAt" IS NOT NULL ${kind ? 'AND kind = $1' : ''}
                ORDER BY kind, "finishedAt" DESC, id DESC) l`,
      kind ? [kind] : [],
    );
    return rows.map((r: KindOutcome) => ({ ...r, lastSeconds: r.lastSeconds === null ? null : Number(r.lastSeconds) }));
  }

  async activeJobIds(): Promise<Set<string>> {
    const rows: Array<{ id: string }> = await this.dataSource.query(`SELECT id FROM kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`);
    return new Set([...rows.map((r) => r.id), ...this.running.keys()]);
  }

  /** Resolves once the job has finished on this instance (for tests and shutdown). */
  async settled(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  /**
   * Marks jobs whose instance stopped heart-beating as FAILED ("interrupted")
   * and returns them, so their owners can clean up partial files.
   */
  async failInterruptedJobs(): Promise<Job[]> {
    const jobs = this.dataSource.getRepository(Job);
    const stale: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')
         AND ("heartbeatAt" IS NULL OR "heartbeatAt" < CURRENT_TIMESTAMP - $1::float8 * interval '1 second')`,
      [this.options.leaseTtlMs / 1000],
    );
    const rows: Job[] = [];
    for (const { id } of stale) {
      const result = await jobs.update(
        { id, status: In([JobStatus.QUEUED, JobStatus.RUNNING]) },
        { status: JobStatus.FAILED, error: `${INTERRUPTED}the gateway running it stopped before it finished`, finishedAt: new Date() },
      );
      const job = result.affected ? await jobs.findOneBy({ id }) : null;
      if (job) rows.push(job);
    }
    for (const job of rows) {
      this.logger.warn({ jobId: job.id, kind: job.kind }, 'job interrupted by a stopped gateway marked FAILED');
      this.publish(job);
      // This instance's UPDATE won: it speaks for the dead one (webhooks), exactly once.
      this.announceFinished(job, this.logger.child({ jobId: job.id, kind: job.kind }));
    }
    return rows;
  }

  private announceFinished(job: Job, log: Logger): void {
    for (const listener of this.finishedListeners) {
      try {
        listener({ ...job });
      } catch (err) {
        log.error({ err }, 'a job-finished listener failed');
      }
    }
  }

  /** Aborts every job of this instance and waits for them to record their end. */
  async shutdown(): Promise<void> {
    for (const { controller } of this.running.values()) {
      controller.abort(new JobCancelledError(false, `${INTERRUPTED}the gateway is shutting down`));
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async execute(job: Job, spec: JobSpec, controller: AbortController): Promise<void> {
    const log = this.logger.child({ jobId: job.id, kind: job.kind });
    const jobs = this.dataSource.getRepository(Job);
    let lastPersist = 0;
    const progress = new ProgressMeter((snapshot) => {
      Object.assign(job, snapshot);
      this.publish(job);
      if (Date.now() - lastPersist >= 1000) {
        lastPersist = Date.now();
        // Not awaited, so it may reach the database after the job's final write: only a row still
        // RUNNING takes it, or a finished job would show the progress of a moment before its end.
        jobs
          .update({ id: job.id, status: JobStatus.RUNNING }, { ...snapshot, heartbeatAt: () => 'CURRENT_TIMESTAMP' })
          .catch((err) => log.warn({ err }, 'could not save progress'));
      }
    });
    const heartbeat = setInterval(() => void this.beat(job, controller, log), this.options.heartbeatMs);
    heartbeat.unref();
    progress.start();
    log.info('job started');

    let final: Partial<Job>;
    try {
      const attachBackup = async (backupId: string) => {
        job.backupId = backupId;
        await jobs.update({ id: job.id }, { backupId });
      };
      const outcome = await spec.run({ job, progress, signal: controller.signal, logger: log, attachBackup });
      controller.signal.throwIfAborted();
      final = { ...progress.complete(), status: JobStatus.COMPLETED, message: outcome?.message ?? null, verification: outcome?.verification ?? null };
      log.info({ message: final.message }, 'job completed');
    } catch (err) {
      progress.stop();
      const reason = controller.signal.aborted ? controller.signal.reason : err;
      const cancelled = reason instanceof JobCancelledError && reason.byUser;
      // A cancel or an interruption says so, a KilnError is written for clients; anything else is
      // masked: the client gets a reference, the log line under it the error and its stack.
      const known = reason instanceof JobCancelledError ? reason : toKilnError(reason);
      const error = known?.message ?? reportUnexpected(log, reason, 'job failed').message;
      const errorCode = known instanceof JobCancelledError ? null : (known?.code ?? ErrorCode.INTERNAL);
      final = { ...progress.snapshot, status: cancelled ? JobStatus.CANCELLED : JobStatus.FAILED, error, errorCode };
      if (known) log.info({ status: final.status, error, errorCode }, 'job ended');
    } finally {
      clearInterval(heartbeat);
    }
    Object.assign(job, final, { finishedAt: new Date(), etaSeconds: final.status === JobStatus.COMPLETED ? 0 : null });
    try {
      // Only a row still RUNNING: one another instance already failed as interrupted keeps that verdict.
      const saved = await jobs.update({ id: job.id, status: JobStatus.RUNNING }, {
        status: job.status,
        phase: job.phase,
        table: job.table,
        percent: job.percent,
        rowsDone: job.rowsDone,
        rowsTotal: job.rowsTotal,
        bytesDone: job.bytesDone,
        etaSeconds: job.etaSeconds,
        message: job.message,
        error: job.error,
        errorCode: job.errorCode,
        verification: job.verification,
        finishedAt: job.finishedAt,
        heartbeatAt: () => 'CURRENT_TIMESTAMP',
      });
      if (!saved.affected) log.warn({ status: job.status }, 'the job was already failed as interrupted elsewhere; its end is not recorded');
    } catch (err) {
      log.error({ err }, 'could not record the end of the job');
    }
    this.announceFinished(job, log);
    const lease = leaseFor(job.kind);
    if (lease) await this.releaseLease(lease, job.id).catch((err) => log.warn({ err }, 'could not release lease'));
    this.running.delete(job.id);
    this.publish(job);
  }

  /**
   * Heartbeat: keeps the lease, notices a cancel asked on another instance,
   * and stops a job another instance has already failed as interrupted (this
   * one stalled past the lease TTL), so it cannot later overwrite that.
   */
  private async beat(job: Job, controller: AbortController, log: Logger): Promise<void> {
    try {
      const [row] = await updateReturning<{ cancelRequested: boolean; status: JobStatus }>(
        this.dataSource,
        `UPDATE kiln_jobs SET "heartbeatAt" = CURRENT_TIMESTAMP WHERE id = $1 RETURNING "cancelRequested", status`,
        [job.id],
      );
      if (row?.cancelRequested) controller.abort(new JobCancelledError(true, 'cancelled by an administrator'));
      if (row && row.status !== JobStatus.RUNNING) {
        controller.abort(new JobCancelledError(false, `${INTERRUPTED}another instance found this job stalled and failed it`));
      }
      const lease = leaseFor(job.kind);
      if (lease && !(await this.renewLease(lease, job.id))) {
        controller.abort(new JobCancelledError(false, `${INTERRUPTED}the job lease was lost (database unreachable too long?)`));
      }
    } catch (err) {
      log.warn({ err }, 'heartbeat failed');
    }
  }

  private async acquireLease(name: string, jobId: string): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO kiln_leases (name, holder, "jobId", "expiresAt") VALUES ($1, '', NULL, CURRENT_TIMESTAMP) ON CONFLICT (name) DO NOTHING`,
        [name],
      );
      const [lease] = await tx.query(
        `SELECT "jobId", "expiresAt" > CURRENT_TIMESTAMP AS live FROM kiln_leases WHERE name = $1 FOR UPDATE`,
        [name],
      );
      if (lease.jobId && lease.live) {
        const [holder] = await tx.query(`SELECT kind, status FROM kiln_jobs WHERE id = $1`, [lease.jobId]);
        throw new ConflictError(`A ${holder?.kind ?? 'BACKUP'} job is running (${lease.jobId}); try again when it has finished`, {
          runningJobId: lease.jobId,
        });
      }
      await tx.query(
        `UPDATE kiln_leases SET holder = $2, "jobId" = $3, "expiresAt" = CURRENT_TIMESTAMP + $4::float8 * interval '1 second' WHERE name = $1`,
        [name, this.instanceId, jobId, this.options.leaseTtlMs / 1000],
      );
    });
  }

  private async renewLease(name: string, jobId: string): Promise<boolean> {
    const rows = await updateReturning(
      this.dataSource,
      `UPDATE kiln_leases SET "expiresAt" = CURRENT_TIMESTAMP + $3::float8 * interval '1 second' WHERE name = $1 AND "jobId" = $2 RETURNING name`,
      [name, jobId, this.options.leaseTtlMs / 1000],
    );
    return rows.length > 0;
  }

  private async releaseLease(name: string, jobId: string): Promise<void> {
    await this.dataSource.query(`UPDATE kiln_leases SET "jobId" = NULL, "expiresAt" = CURRENT_TIMESTAMP WHERE name = $1 AND "jobId" = $2`, [
      name,
      jobId,
    ]);
  }

  private publish(job: Job): void {
    this.jobEvents.publish(job);
  }
}

export type { ProgressSnapshot };

/** A job that did what it was for: completed, and (a verify) found the backup good. */
const SUCCEEDED = `(status = 'COMPLETED' AND coalesce((verification->>'ok')::boolean, true))`;

/** How the jobs of one kind last went. */
export interface KindOutcome {
  kind: string;
  lastSucceeded: boolean;
  lastFinishedAt: Date;
  lastSeconds: number | null;
  /** The last job's error, or its message (a verify's "2 of 9 checks failed"). */
  lastMessage: string | null;
  lastSuccessAt: Date | null;
}

export interface JobMetricFacts {
  running: Array<{ kind: string; n: number }>;
  last: KindOutcome[];
  /** The job holding the lease now, and for how long. */
  lease: Array<{ kind: string; heldSeconds: number }>;
}
