import type { BackupAnomalies } from '../backup/backup-anomalies';
import type { Job } from '../jobs/job.entity';
import { JobKind, JobStatus } from '../jobs/job.enums';
import type { Logger } from '../logging/logger';
import type { NotificationHub } from './notification-hub';

/**
 * After each backup this instance completed: compares it with the previous one of the same
 * options, and a suspicious one gets a warning log line and a backup.suspicious notification
 * (nothing is sent when no channel is configured; health lists it either way).
 */
export class SuspiciousBackupWatcher {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly anomalies: BackupAnomalies,
    private readonly notifier: NotificationHub,
    private readonly logger: Logger,
  ) {}

  readonly onJobFinished = (job: Job): void => {
    if (job.kind !== JobKind.BACKUP || job.status !== JobStatus.COMPLETED || !job.backupId) return;
    const work: Promise<void> = this.anomalies
      .of(job.backupId)
      .then((found) => {
        if (!found) return;
        this.logger.warn({ event: 'backup_suspicious', jobId: job.id, backupId: found.backupId, reasons: found.reasons }, `backup ${found.filename} looks suspicious: ${found.reasons.join('; ')}`);
        this.notifier.notify('backup.suspicious', found, { jobId: job.id });
      })
      .catch((err) => this.logger.error({ event: 'anomaly_check_failed', jobId: job.id, err }, 'could not compare the backup with the previous one'))
      .finally(() => this.pending.delete(work));
    this.pending.add(work);
  };

  /** Waits for checks still reading the database (before it closes). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
