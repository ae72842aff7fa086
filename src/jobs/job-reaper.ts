import type { Logger } from '../logging/logger';

export interface JobReaperOptions {
  /** How often to sweep: twice per lease TTL, so a dead instance's job is failed soon after its lease expires. */
  intervalMs: number;
}

/**
 * The one place that fails jobs whose instance is gone and cleans up after them, on every
 * instance: at start (also, at once, the jobs of earlier instances of this data folder the
 * database proved gone, see instance-liveness.ts) and every interval (any instance's jobs whose
 * heartbeat stopped for the lease TTL). The sweep
 * itself is JobRunner.failInterruptedJobs plus the cleanup of what those jobs left (their backup
 * records, partial files), passed in as `sweep`.
 */
export class JobReaper {
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly sweep: () => Promise<void>,
    private readonly logger: Logger,
    private readonly options: JobReaperOptions,
  ) {}

  /** Sweeps once now (the start-up recovery), then every interval. */
  async start(): Promise<void> {
    await this.reap();
    this.timer = setInterval(() => void this.reap(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One sweep; a sweep already going on is joined. Never throws: a database hiccup waits for the next. */
  reap(): Promise<void> {
    this.sweeping ??= this.sweep()
      .catch((err) => this.logger.warn({ event: 'job_sweep_failed', err }, 'could not sweep for interrupted jobs; retrying at the next sweep'))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }
}
