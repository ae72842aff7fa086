import type { DataSource } from 'typeorm';
import type { Logger } from '../logging/logger';
import type { BackupHealthService } from '../system/backup-health.service';
import type { BackupHealth } from '../system/backup-health.type';
import type { HealthEventData, WebhookEventType } from './webhook-event';
import type { NotificationHub } from './notification-hub';
import { query, queryOne, updateReturning } from '../db/sql';

/** The one row of kiln_health_state. */
const STATE_ID = 'backups';

export interface HealthWatcherOptions {
  /** Names this instance in the state row it changes. */
  instanceId: string;
  intervalMs: number;
}

/**
 * Sends health.unhealthy / health.healthy when backup health changes. Every
 * instance evaluates it (every interval, and after each job it ran); the last
 * known state lives in kiln_health_state and changes only through a
 * compare-and-set UPDATE, so the one instance whose update wins sends the
 * transition. An evaluation that began before the one that last changed the
 * state is stale and cannot change it back.
 */
export class HealthWatcher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly health: BackupHealthService,
    private readonly notifier: NotificationHub,
    private readonly logger: Logger,
    private readonly options: HealthWatcherOptions,
  ) {}

  /** Evaluates now, then every interval. */
  start(): void {
    this.timer = setInterval(() => this.check(), this.options.intervalMs);
    this.timer.unref();
    this.check();
  }

  /** Asks for an evaluation soon (e.g. a job finished); asks made while one runs fold into one more. Never throws. */
  check(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.evaluateWhileAsked().finally(() => (this.running = undefined));
  }

  /** Stops the timer and waits for the evaluation in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async evaluateWhileAsked(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.evaluate();
      } catch (err) {
        this.logger.warn({ event: 'health_check_failed', err }, 'could not evaluate backup health');
      }
    } while (this.again && !this.stopped);
  }

  private async evaluate(): Promise<void> {
    // The database's clock orders evaluations across instances.
    const { now } = (await queryOne<{ now: Date }>(this.dataSource, `SELECT clock_timestamp() AS now`))!;
    // The shared view: instance-local problems (its Redis link, its disk) would make instances flip the shared state.
    const health = await this.health.health('shared');
    const transition = await this.record(health, now);
    this.logger.debug({ event: 'health_checked', healthy: health.healthy, transition }, 'backup health checked');
    // Sent even when stopping: this instance changed the shared state, so no other one will.
    if (!transition) return;
    this.logger.info({ event: 'health_changed', healthy: health.healthy, problems: health.problems }, 'backup health changed');
    const data: HealthEventData = {
      healthy: health.healthy,
      problems: health.problems,
      lastSuccessfulBackupAt: iso(health.lastSuccessfulBackupAt),
      lastFailedBackupAt: iso(health.lastFailedBackupAt),
      failedLast24h: health.failedLast24h,
    };
    this.notifier.notify(transition, data);
  }

  /** The event to send when this evaluation changed the shared state, else null. */
  private async record(health: BackupHealth, evaluatedAt: Date): Promise<WebhookEventType | null> {
    const params = [STATE_ID, health.healthy, JSON.stringify(health.problems), evaluatedAt, this.options.instanceId];
    // A fresh database: the first evaluation records the state; only a bad start is worth a message.
    const inserted = await query(
      this.dataSource,
      `INSERT INTO "kiln_health_state" ("id", "healthy", "problems", "evaluatedAt", "changedBy")
       VALUES ($1, $2, $3::jsonb, $4, $5)
       ON CONFLICT ("id") DO NOTHING
       RETURNING "id"`,
      params,
    );
    if (inserted.length > 0) return health.healthy ? null : 'health.unhealthy';
    const changed = await updateReturning(
      this.dataSource,
      `UPDATE "kiln_health_state"
       SET "healthy" = $2, "problems" = $3::jsonb, "evaluatedAt" = $4, "changedBy" = $5, "changedAt" = CURRENT_TIMESTAMP
       WHERE "id" = $1 AND "healthy" <> $2 AND "evaluatedAt" < $4
       RETURNING "id"`,
      params,
    );
    if (changed.length === 0) return null;
    return health.healthy ? 'health.healthy' : 'health.unhealthy';
  }
}

function iso(value: Date | string | null): string | null {
  return value == null ? null : new Date(value).toISOString();
}
