import type { DataSource } from 'typeorm';
import type { BackupService } from '../backup/backup.service';
import type { JobRunner } from '../jobs/job-runner';
import type { Logger } from '../logging/logger';
import type { BackupHealthService } from '../system/backup-health.service';
import { HealthWatcher } from './health-watcher';
import { JobEventNotifier } from './job-event-notifier';
import { WebhookNotifier, type WebhookSettings } from './webhook-notifier';

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
 * The webhooks of one instance (only when BACKUP_WEBHOOK_URL is set): backup
 * and restore jobs it ran, and backup health transitions, checked every
 * interval and after each of its jobs.
 */
export class BackupNotifications {
  private readonly webhooks: WebhookNotifier;
  private readonly jobEvents: JobEventNotifier;
  private readonly healthWatcher: HealthWatcher;

  constructor(settings: WebhookSettings, deps: BackupNotificationDeps) {
    const logger = deps.logger.child({ component: 'webhooks' });
    this.webhooks = new WebhookNotifier(settings, logger);
    this.jobEvents = new JobEventNotifier(deps.backups.records, this.webhooks, logger);
    this.healthWatcher = new HealthWatcher(deps.dataSource, deps.health, this.webhooks, logger, {
      instanceId: deps.instanceId,
      intervalMs: deps.healthCheckMs,
    });
    deps.jobs.onJobFinished(this.jobEvents.onJobFinished);
    deps.backups.onNotStarted(this.jobEvents.onBackupNotStarted);
    deps.jobs.onJobFinished(() => this.healthWatcher.check());
  }

  /** Starts the health checks; job events flow from construction on. */
  start(): void {
    this.healthWatcher.start();
  }

  /** After the jobs have stopped and before the database closes: the last events are read, then sent or abandoned. */
  async close(): Promise<void> {
    await this.healthWatcher.stop();
    await this.jobEvents.close();
    await this.webhooks.close();
  }
}
