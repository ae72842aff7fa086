import { In, type DataSource } from 'typeorm';
import { newId } from '../db/ids';
import { queryOne, updateReturning } from '../db/sql';
import { ConflictError, ErrorCode, NotFoundError } from '../errors/kiln-errors';
import { toKilnError } from '../errors/to-kiln-error';
import { reportUnexpected } from '../errors/unexpected-error';
import type { Logger } from '../logging/logger';
import type { JobEventBus } from './job-event-bus';
import { busyConflict, EXCLUSIVE_LEASE, JobLeases, leaseFor, MAX_QUEUED_PER_LEASE, RETENTION_LEASE } from './job-leases';
import { Job } from './job.entity';
import { JobOutcomes, type JobMetricFacts, type KindOutcome } from './job-outcomes';
import { LocalJobQueue, type QueuedJob, type StartAttempt } from './local-job-queue';
import { FINISHED_STATUSES, INTERRUPTED_ERROR_CODE, JobKind, JobStatus } from './job.enums';
import { ProgressMeter, type ProgressSnapshot } from './progress-meter';
import type { VerificationReport } from './verification-report.type';

export { EXCLUSIVE_LEASE, leaseFor, MAX_QUEUED_PER_LEASE, RETENTION_LEASE };
/** Starts the error message of an interrupted job (its errorCode says INTERRUPTED): for people reading it. */
export const INTERRUPTED = 'interrupted: ';

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
  /**
   * Runs once the lease is taken, before the work: before the job's row exists when it starts at
   * once (a failure is thrown to the caller), after it when the job was queued (a failure fails it).
   * Either way a failure releases the lease.
   */
  prepare?(jobId: string): Promise<void>;
  run(run: JobRun): Promise<JobOutcome | void>;
}

export class JobCancelledError extends Error {
  constructor(readonly byUser: boolean, message: string) {
    super(message);
  }
}

export interface JobRunnerOptions {
  leaseTtlMs: number;
  /** How often a running job renews its lease, and this instance's queued jobs are kept alive and looked at. */
  heartbeatMs: number;
  /**
   * Earlier instances of this gateway the database proved gone as this one started
   * (instance-liveness.ts): their QUEUED and RUNNING jobs are failed as interrupted by the first
   * sweep, without waiting for the lease TTL. Only by the first: the verdict is of that moment.
   */
  goneInstanceIds?: readonly string[];
  /**
   * True while queued jobs must wait (maintenance mode: the admin is about to restore): none
   * starts, nothing new is queued, and a job started now goes ahead of those waiting.
   */
  queueHeld?: () => Promise<boolean>;
}

export interface StartOptions {
  /** Queue the job when its lease is busy, instead of CONFLICT. */
  queue?: boolean;
  /** With `queue`: join a QUEUED job of the same kind and input instead of queuing another (the job returned is that one). */
  coalesce?: boolean;
}

/**
 * Runs jobs in the background of this instance. BACKUP/RESTORE/RESET hold one
 * database lease, so only one of them runs across all instances (RETENTION
 * holds a lease of its own); a lease whose holder stopped renewing it expires
 * and is taken over.
 *
 * A job asked to queue (`start(spec, { queue: true })`) while its lease is held, or while other
 * jobs are queued for it, gets a QUEUED row: visible to every instance, ordered by createdAt,
 * cancellable. Its work (a closure) stays on the instance that queued it, which keeps the row alive
 * with heartbeats and starts it when the lease is free and it is the oldest QUEUED job of the
 * lease (checked under the lease row's lock, so the order holds across instances). If that
 * instance dies, the sweep fails the row as INTERRUPTED like a running job (at once when the
 * instance restarts, after the lease TTL otherwise) and the queue moves on; a scheduled fire is
 * then re-run by the schedule's takeover. At most MAX_QUEUED_PER_LEASE wait per lease; while
 * `queueHeld` (maintenance mode) none starts, none is added, and a job started directly goes ahead
 * of them. Parameters are not replayed by other instances: a job's
 * work may hold what only its instance has (an upload's file), and one rule for every kind is simpler.
 */
export class JobRunner {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly queue: LocalJobQueue;
  private readonly finishedListeners: Array<(job: Job) => void> = [];
  private readonly leases: JobLeases;
  private readonly outcomes: JobOutcomes;
  /** The proven-gone instances the next sweep still has to fail the jobs of (the start-up sweep's). */
  private goneAtStart: readonly string[];

  constructor(
    private readonly dataSource: DataSource,
    private readonly jobEvents: JobEventBus,
    private readonly logger: Logger,
    readonly instanceId: string,
    private readonly options: JobRunnerOptions = { leaseTtlMs: 30_000, heartbeatMs: 5_000 },
  ) {
    this.leases = new JobLeases(dataSource, instanceId, options.leaseTtlMs);
    this.outcomes = new JobOutcomes(dataSource);
    this.goneAtStart = options.goneInstanceIds ?? [];
    this.queue = new LocalJobQueue(dataSource, logger, options.heartbeatMs, (entry) => this.startIfItsTurn(entry));
  }

  /**
   * Creates the job row (RUNNING) and starts it. While a job holding the same lease runs (or jobs
   * wait for it): CONFLICT, or with `queue` the job is created QUEUED and starts in its turn.
   */
  async start(spec: JobSpec, options: StartOptions = {}): Promise<Job> {
    const id = newId();
    const jobs = this.dataSource.getRepository(Job);
    const lease = leaseFor(spec.kind);
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
    if (lease) {
      const held = await this.queueHeld();
      if (held && options.queue) {
        throw new ConflictError('Maintenance mode is on: queued jobs wait until it is off, so nothing was queued; start it now or after maintenance', { maintenance: true });
      }
      let joined: Job | null = null;
      const taken = await this.leases.decide(lease, id, async (tx, state) => {
        if (!state.holder && (held || !state.firstQueued)) return true;
        if (!options.queue) throw busyConflict(state);
        if (options.coalesce) {
          const same = await queryOne<{ id: string }>(
            tx,
            `SELECT id FROM kiln_jobs WHERE status = 'QUEUED' AND kind = $1 AND input IS NOT DISTINCT FROM $2::jsonb ORDER BY "createdAt", id LIMIT 1`,
            [spec.kind, spec.input ? JSON.stringify(spec.input) : null],
          );
          joined = same ? await tx.getRepository(Job).findOneBy({ id: same.id }) : null;
          if (joined) return false;
        }
        if (state.queued >= MAX_QUEUED_PER_LEASE) {
          throw new ConflictError(`${state.queued} jobs are already queued for this slot; try again when the queue is shorter`, { queuedJobs: state.queued });
        }
        Object.assign(job, { status: JobStatus.QUEUED, startedAt: null });
        await tx.getRepository(Job).insert({ ...job, heartbeatAt: () => 'CURRENT_TIMESTAMP' });
        return false;
      });
      if (joined) return joined;
      if (!taken) return this.enqueue(job, spec);
    }
    try {
      await spec.prepare?.(id);
      // Heartbeats are the database's clock, whatever this host's clock says (the sweep compares with it).
      await jobs.insert({ ...job, heartbeatAt: () => 'CURRENT_TIMESTAMP' });
    } catch (err) {
      if (lease) await this.leases.release(lease, id);
      throw err;
    }
    this.publish(job);
    // Runs on its own: run() records every outcome (and failure) on the job itself.
    void this.run(job, spec);
    // The job as it started: the run keeps changing its own object (a small backup can finish before the answer goes out).
    return { ...job };
  }

  private run(job: Job, spec: JobSpec): Promise<void> {
    const controller = new AbortController();
    const done = this.execute(job, spec, controller);
    this.running.set(job.id, { controller, done });
    return done;
  }

  private enqueue(job: Job, spec: JobSpec): Job {
    this.queue.add(job, spec);
    this.logger.info({ jobId: job.id, kind: job.kind }, 'job queued until its lease is free');
    this.publish(job);
    return { ...job };
  }

  /**
   * This instance's queued jobs: keeps their rows alive, forgets those no longer QUEUED (cancelled,
   * or failed as interrupted elsewhere), and starts each whose turn has come. Runs every heartbeat
   * while any are queued and whenever a job of this instance ends; never throws.
   */
  startQueued(): Promise<void> {
    return this.queue.pump();
  }

  /** Starts a queued job of this instance if the lease is free and it is the first queued for it. */
  private async startIfItsTurn(entry: QueuedJob): Promise<StartAttempt> {
    // Maintenance: the queue waits for it to end (what runs meanwhile is the admin's to start).
    if (await this.queueHeld()) return 'waiting';
    const { job, spec } = entry;
    const lease = leaseFor(job.kind)!;
    const startedAt = new Date();
    let gone = false;
    const taken = await this.leases.decide(lease, job.id, async (tx, state) => {
      if (state.holder || state.firstQueued !== job.id) return false;
      const started = await tx
        .getRepository(Job)
        .update({ id: job.id, status: JobStatus.QUEUED }, { status: JobStatus.RUNNING, startedAt, heartbeatAt: () => 'CURRENT_TIMESTAMP' });
      gone = !started.affected;
      return !gone;
    });
    if (!taken && !gone) return 'waiting';
    this.queue.take(job.id);
    if (gone) {
      entry.leave();
      return 'gone';
    }
    Object.assign(job, { status: JobStatus.RUNNING, startedAt });
    try {
      await spec.prepare?.(job.id);
    } catch (err) {
      await this.failBeforeRun(job, err, lease);
      entry.leave();
      return 'started';
    }
    this.publish(job);
    void this.run(job, spec).finally(() => entry.leave());
    return 'started';
  }

  /** A queued job whose preparation failed once its turn came: FAILED like any job, the lease released. */
  private async failBeforeRun(job: Job, err: unknown, lease: string): Promise<void> {
    const log = this.logger.child({ jobId: job.id, kind: job.kind });
    const known = toKilnError(err);
    Object.assign(job, {
      status: JobStatus.FAILED,
      error: known?.message ?? reportUnexpected(log, err, 'job failed').message,
      errorCode: known?.code ?? ErrorCode.INTERNAL,
      finishedAt: new Date(),
    });
    await this.dataSource
      .getRepository(Job)
      .update({ id: job.id, status: JobStatus.RUNNING }, { status: job.status, error: job.error, errorCode: job.errorCode, finishedAt: job.finishedAt })
      .catch((e) => log.error({ err: e }, 'could not record the end of the job'));
    await this.leases.release(lease, job.id).catch((e) => log.warn({ err: e }, 'could not release lease'));
    this.publish(job);
    this.announceFinished(job, log);
    void this.startQueued();
  }

  /**
   * Records a job that could not even be created (its preparation threw: BACKUP_DIR not writable,
   * no cloud configured, a full queue, maintenance): a FAILED row saying why, announced like any
   * finished job (webhooks, notifications), so a job nobody asked for in person (a scheduled fire)
   * does not fail in silence. Throws only when the database cannot take the row.
   */
  async failUnstarted(spec: Pick<JobSpec, 'kind' | 'requestedById' | 'input'>, err: unknown, why: string): Promise<Job> {
    const id = newId();
    const log = this.logger.child({ jobId: id, kind: spec.kind });
    const known = toKilnError(err);
    const now = new Date();
    const job = this.dataSource.getRepository(Job).create({
      id,
      kind: spec.kind,
      status: JobStatus.FAILED,
      backupId: null,
      input: spec.input ?? null,
      requestedById: spec.requestedById,
      instanceId: this.instanceId,
      createdAt: now,
      startedAt: null,
      finishedAt: now,
      heartbeatAt: now,
      percent: 0,
      rowsDone: 0,
      bytesDone: 0,
      cancelRequested: false,
      error: `${why}: ${known?.message ?? reportUnexpected(log, err, 'job could not start').message}`,
      errorCode: known?.code ?? ErrorCode.INTERNAL,
    });
    await this.dataSource.getRepository(Job).insert(job);
    log.warn({ error: job.error, errorCode: job.errorCode }, 'job could not start: recorded as FAILED');
    this.publish(job);
    this.announceFinished(job, log);
    return job;
  }

  /**
   * CONFLICT now, without taking anything, when a job of `kind` could not start because its
   * lease is held: for callers about to do costly work first (an upload of gigabytes).
   */
  async assertCanStart(kind: JobKind): Promise<void> {
    const lease = leaseFor(kind);
    if (!lease) return;
    const state = await this.leases.peek(lease);
    if (state.holder || (state.firstQueued && !(await this.queueHeld()))) throw busyConflict(state);
  }

  private queueHeld(): Promise<boolean> {
    return this.options.queueHeld?.() ?? Promise.resolve(false);
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

  /**
   * A queued job is CANCELLED at once, without ever running (on whichever instance queued it);
   * a running one is asked to stop, and the instance running it notices within a heartbeat.
   */
  async cancel(id: string): Promise<Job> {
    const jobs = this.dataSource.getRepository(Job);
    const job = await jobs.findOneBy({ id });
    if (!job) throw new NotFoundError('Job', id);
    if (FINISHED_STATUSES.has(job.status)) {
      throw new ConflictError(`Job ${id} is already ${job.status}: only a queued or running job can be cancelled`, { status: job.status });
    }
    if (job.status === JobStatus.QUEUED) {
      const cancelled = await jobs.update(
        { id, status: JobStatus.QUEUED },
        { status: JobStatus.CANCELLED, cancelRequested: true, error: 'cancelled by an administrator before it started', finishedAt: new Date() },
      );
      if (cancelled.affected) {
        const row = (await jobs.findOneBy({ id }))!;
        this.queue.take(id)?.leave();
        const log = this.logger.child({ jobId: id, kind: row.kind });
        log.info('queued job cancelled');
        this.publish(row);
        // This instance's UPDATE won: it speaks for the job, wherever it was queued.
        this.announceFinished(row, log);
        void this.startQueued();
        return row;
      }
      // It started meanwhile: it is cancelled as a running job.
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

  /** What /metrics reports of the jobs: running per kind, each kind's last outcome, the lease. */
  metricFacts(): Promise<JobMetricFacts> {
    return this.outcomes.metricFacts();
  }

  /** Per kind (or of one): the last finished job's outcome, and when one last succeeded. */
  lastOutcomes(kind?: JobKind): Promise<KindOutcome[]> {
    return this.outcomes.lastOutcomes(kind);
  }

  async activeJobIds(): Promise<Set<string>> {
    // With the holders of live leases that are no job (the journal's streamer tags its segments so).
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')
       UNION SELECT "jobId" FROM kiln_leases WHERE "jobId" IS NOT NULL AND "expiresAt" > CURRENT_TIMESTAMP`,
    );
    return new Set([...rows.map((r) => r.id), ...this.running.keys()]);
  }

  /** Resolves once the job has finished on this instance, or left its queue here (for tests and shutdown). */
  async settled(id: string): Promise<void> {
    await this.queue.settled(id);
    await this.running.get(id)?.done;
  }

  /**
   * Marks QUEUED and RUNNING jobs whose instance is gone as FAILED, errorCode INTERRUPTED, frees
   * their leases and returns them, so their owners can clean up partial files. Gone: stopped
   * heart-beating for the lease TTL, or, in the first sweep only, an earlier instance of this
   * gateway the database proved gone at start (goneInstanceIds). A lease is freed only if it
   * expired or its holder is that gone instance: never under a job that still runs.
   */
  async failInterruptedJobs(): Promise<Job[]> {
    const gone = this.goneAtStart;
    const jobs = this.dataSource.getRepository(Job);
    // One statement: a job that started or beat since it looked stale is not failed (the WHERE is
    // checked again on the row it locks), where a SELECT then UPDATE would have failed it.
    const failed = await updateReturning<{ id: string }>(
      this.dataSource,
      `UPDATE kiln_jobs
          SET status = 'FAILED', "errorCode" = $3, "finishedAt" = $4,
              error = CASE WHEN status = 'QUEUED' THEN $5 ELSE $6 END
        WHERE status IN ('QUEUED', 'RUNNING')
          AND ("heartbeatAt" IS NULL OR "heartbeatAt" < CURRENT_TIMESTAMP - $1::float8 * interval '1 second' OR "instanceId" = ANY($2))
        RETURNING id`,
      [
        this.options.leaseTtlMs / 1000,
        gone,
        INTERRUPTED_ERROR_CODE,
        new Date(),
        `${INTERRUPTED}the gateway that queued it stopped before it could start`,
        `${INTERRUPTED}the gateway running it stopped before it finished`,
      ],
    );
    const rows = failed.length > 0 ? await jobs.findBy({ id: In(failed.map((r) => r.id)) }) : [];
    await this.leases.releaseHeldBy(rows.map((job) => job.id), gone);
    this.goneAtStart = [];
    for (const job of rows) {
      this.logger.warn({ jobId: job.id, kind: job.kind }, 'job interrupted by a stopped gateway marked FAILED');
      this.publish(job);
      // This instance's UPDATE won: it speaks for the dead one (webhooks), exactly once.
      this.announceFinished(job, this.logger.child({ jobId: job.id, kind: job.kind }));
    }
    return rows;
  }

  private async failQueuedHere(): Promise<void> {
    const jobs = this.dataSource.getRepository(Job);
    for (const entry of await this.queue.close()) {
      const id = entry.job.id;
      const log = this.logger.child({ jobId: id, kind: entry.job.kind });
      try {
        const result = await jobs.update(
          { id, status: JobStatus.QUEUED },
          { status: JobStatus.FAILED, error: `${INTERRUPTED}the gateway that queued it stopped`, errorCode: INTERRUPTED_ERROR_CODE, finishedAt: new Date() },
        );
        const job = result.affected ? await jobs.findOneBy({ id }) : null;
        if (job) {
          log.info('queued job failed as interrupted: the gateway is shutting down');
          this.publish(job);
          this.announceFinished(job, log);
        }
      } catch (err) {
        log.warn({ err }, 'could not fail a queued job at shutdown; the sweep of another instance will');
      } finally {
        entry.leave();
      }
    }
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

  /**
   * Fails this instance's queued jobs as interrupted (their work lives here), then aborts every
   * running job of this instance and waits for them to record their end.
   */
  async shutdown(): Promise<void> {
    await this.failQueuedHere();
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
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      const cancelled = reason instanceof JobCancelledError && reason.byUser;
      // A cancel or an interruption says so, a KilnError is written for clients; anything else is
      // masked: the client gets a reference, the log line under it the error and its stack.
      const known = reason instanceof JobCancelledError ? reason : toKilnError(reason);
      const error = known?.message ?? reportUnexpected(log, reason, 'job failed').message;
      const errorCode = known instanceof JobCancelledError ? (known.byUser ? null : INTERRUPTED_ERROR_CODE) : (known?.code ?? ErrorCode.INTERNAL);
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
    if (lease) await this.leases.release(lease, job.id).catch((err) => log.warn({ err }, 'could not release lease'));
    this.running.delete(job.id);
    this.publish(job);
    // The lease is free: a job queued here may be next.
    if (lease && this.queue.size > 0) void this.startQueued();
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
      if (lease && !(await this.leases.renew(lease, job.id))) {
        controller.abort(new JobCancelledError(false, `${INTERRUPTED}the job lease was lost (database unreachable too long?)`));
      }
    } catch (err) {
      log.warn({ err }, 'heartbeat failed');
    }
  }

  private publish(job: Job): void {
    this.jobEvents.publish(job);
  }
}

export type { JobMetricFacts, KindOutcome, ProgressSnapshot };
