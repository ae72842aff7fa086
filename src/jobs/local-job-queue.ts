import type { DataSource } from 'typeorm';
import { updateReturning } from '../db/sql';
import type { Logger } from '../logging/logger';
import type { Job } from './job.entity';
import type { JobSpec } from './job-runner';
import { leaseFor } from './job-leases';

/** What an offer to start a queued job came to: it started, it is no longer queued, or its turn has not come. */
export type StartAttempt = 'started' | 'gone' | 'waiting';

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
 * (cancelled, or failed as interrupted by another instance), and offers the oldest of each lease to
 * `tryStart`, which starts it if its turn has come: one locking transaction per lease per look,
 * not one per queued job (a job behind one whose turn has not come cannot be first either).
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
    private readonly tryStart: (entry: QueuedJob) => Promise<StartAttempt>,
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
    const lanes = new Map<string | null, QueuedJob[]>();
    for (const entry of byAge) {
      const lease = leaseFor(entry.job.kind);
      lanes.set(lease, [...(lanes.get(lease) ?? []), entry]);
    }
    for (const lane of lanes.values()) {
      // The next one is offered only when the one before had left the queue (its row was no longer QUEUED).
      for (const entry of lane) {
        if (this.closed) return;
        if ((await this.tryStart(entry)) !== 'gone') break;
      }
    }
    if (this.waiting.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
