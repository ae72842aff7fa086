import type { DataSource } from 'typeorm';
import type { BackupService } from '../backup/backup.service';
import type { JobRunner } from '../jobs/job-runner';
import type { Logger } from '../logging/logger';
import type { BackupHealthService } from '../system/backup-health.service';
import { HealthWatcher } from './health-watcher';
import { JobEventNotifier } from './job-event-notifier';
import type { NotificationHub } from './notification-hub';

export interface BackupNotificationDeps {
  dataSource: DataSource;
  jobs: JobRunner;
  backups: BackupService;
  health: BackupHealthService;
  logger: Logger;
  instanceId: string;
  healthCheckMs: number;
}

/**
 * The notifications of one instance (only when some channel is configured): backup and restore
 * jobs it ran, and backup health transitions, checked every interval and after each of its jobs.
 * The hub is the gateway's, closed by it after this.
 */
export class BackupNotifications {
  private readonly jobEvents: JobEventNotifier;
  private readonly healthWatcher: HealthWatcher;

  constructor(notifier: NotificationHub, deps: BackupNotificationDeps) {
    const logger = deps.logger.child({ component: 'notify' });
    this.jobEvents = new JobEventNotifier(deps.backups.records, notifier, logger);
    this.healthWatcher = new HealthWatcher(deps.dataSource, deps.health, notifier, logger, {
      instanceId: deps.instanceId,
      intervalMs: deps.healthCheckMs,
    });
    deps.jobs.onJobFinished(this.jobEvents.onJobFinished);
    deps.jobs.onJobFinished(() => this.healthWatcher.check());
  }

  /** Starts the health checks; job events flow from construction on. */
  start(): void {
    this.healthWatcher.start();
  }

  /** After the jobs have stopped and before the hub and the database close: the last events are read and queued. */
  async close(): Promise<void> {
    await this.healthWatcher.stop();
    await this.jobEvents.close();
  }
}
