import type { DataSource } from 'typeorm';
import { updateReturning } from '../db/sql';
import type { Logger } from '../logging/logger';
import type { Job } from './job.entity';
import type { JobSpec } from './job-runner';

/** A job queued on this instance: its work stays here until its turn (see JobRunner). */
export interface QueuedJob {
  job: Job;
  spec: JobSpec;
  /** Resolves once the job has left the queue and, if it ran, finished. */
  done: Promise<void>;
  leave(): void;
}

/**
 * The QUEUED jobs this instance holds the work of. Every heartbeat while any wait (and whenever
 * asked: a lease came free here), it keeps their rows alive, forgets those no longer QUEUED
 * (cancelled, or failed as interrupted by another instance), and offers the rest, oldest first, to
 * `tryStart`, which starts a job if its turn has come.
 */
export class LocalJobQueue {
  private readonly waiting = new Map<string, QueuedJob>();
  private timer?: NodeJS.Timeout;
  private pumping?: Promise<void>;
  private pumpAgain = false;
  private closed = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
    private readonly heartbeatMs: number,
    private readonly tryStart: (entry: QueuedJob) => Promise<void>,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  add(job: Job, spec: JobSpec): void {
    let leave!: () => void;
    const done = new Promise<void>((resolve) => (leave = resolve));
    this.waiting.set(job.id, { job, spec, done, leave });
    if (!this.timer) {
      this.timer = setInterval(() => void this.pump(), this.heartbeatMs);
      this.timer.unref();
    }
  }

  /** Takes the job out of the queue (it starts, or was cancelled); its `done` is the caller's to settle. */
  take(id: string): QueuedJob | undefined {
    const entry = this.waiting.get(id);
    this.waiting.delete(id);
    return entry;
  }

  /** Resolves once the job has left the queue here (and, if it ran, finished); at once if it is not queued here. */
  async settled(id: string): Promise<void> {
    await this.waiting.get(id)?.done;
  }

  /** One look at the queue; a look already going on is joined, and another follows it. Never throws. */
  pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = this.look()
      .catch((err) => this.logger.warn({ err }, 'could not look at the queued jobs; trying again at the next heartbeat'))
      .finally(() => {
        this.pumping = undefined;
        if (this.pumpAgain && !this.closed) {
          this.pumpAgain = false;
          void this.pump();
        }
      });
    return this.pumping;
  }

  /** Starts nothing more; returns the jobs still queued here (the caller fails them). */
  async close(): Promise<QueuedJob[]> {
    this.closed = true;
    this.stopTimer();
    await this.pumping;
    const left = [...this.waiting.values()];
    this.waiting.clear();
    return left;
  }

  private async look(): Promise<void> {
    if (this.closed || this.waiting.size === 0) return this.stopTimer();
    const alive = await updateReturning<{ id: string }>(
      this.dataSource,
      `UPDATE kiln_jobs SET "heartbeatAt" = CURRENT_TIMESTAMP WHERE id = ANY($1) AND status = 'QUEUED' RETURNING id`,
      [[...this.waiting.keys()]],
    );
    const still = new Set(alive.map((r) => r.id));
    for (const [id, entry] of this.waiting) {
      if (still.has(id)) continue;
      this.waiting.delete(id);
      entry.leave();
      this.logger.info({ jobId: id, kind: entry.job.kind }, 'queued job left the queue without running here');
    }
    const byAge = [...this.waiting.values()].sort((a, b) => a.job.createdAt.getTime() - b.job.createdAt.getTime() || (a.job.id < b.job.id ? -1 : 1));
    for (const entry of byAge) {
      if (this.closed) return;
      await this.tryStart(entry);
    }
    if (this.waiting.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
