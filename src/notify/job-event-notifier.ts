import type { BackupRecord } from '../backup/records/backup-record';
import type { BackupRecordStore } from '../backup/records/backup-record.store';
import { BackupStatus, BackupType } from '../backup/backup.enums';
import type { Job } from '../jobs/job.entity';
import { JobKind, JobStatus } from '../jobs/job.enums';
import type { Logger } from '../logging/logger';
import type { BackupEventData, DrillEventData, JobEventData, RestoreEventData } from './webhook-event';
import type { NotificationHub } from './notification-hub';

/**
 * Turns jobs finished on this instance into notifications (every channel): a BACKUP job into
 * backup.completed / backup.failed (CANCELLED counts as failed); a RESTORE job
 * into restore.*; the PRE_RESTORE / PRE_RESET safety backups written inside a
 * RESTORE or RESET job into backup.* too. Only the instance that ran a job
 * hears of it, so several instances never announce it twice. A scheduled DRILL job into drill.*
 * (failed also when it ran but found the backup bad).
 */
export class JobEventNotifier {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly records: BackupRecordStore,
    private readonly notifier: NotificationHub,
    private readonly logger: Logger,
  ) {}

  /** JobRunner listener: reads the facts in the background, then queues the deliveries. */
  readonly onJobFinished = (job: Job): void => {
    if (job.kind !== JobKind.BACKUP && job.kind !== JobKind.RESTORE && job.kind !== JobKind.RESET && job.kind !== JobKind.DRILL) return;
    const work: Promise<void> = this.announce(job)
      .catch((err) => this.logger.error({ event: 'webhook_event_failed', jobId: job.id, err }, 'could not prepare the notification of a finished job'))
      .finally(() => this.pending.delete(work));
    this.pending.add(work);
  };

  /** Waits for announcements still reading the database (before the database closes). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async announce(job: Job): Promise<void> {
    const records = this.records;
    if (job.kind === JobKind.DRILL) {
      const record = job.backupId ? await records.get(job.backupId) : null;
      const checks = (job.verification?.checks ?? []).map((c) => ({ name: c.name, passed: c.ok, detail: c.detail ?? null }));
      const data: DrillEventData = { ...jobData(job), backupId: job.backupId, filename: record?.filename ?? null, checks };
      const good = job.status === JobStatus.COMPLETED && job.verification?.ok !== false;
      this.notifier.notify(good ? 'drill.completed' : 'drill.failed', data, { jobId: job.id });
      return;
    }
    if (job.kind === JobKind.BACKUP) {
      const record = job.backupId ? await records.get(job.backupId) : null;
      const ok = job.status === JobStatus.COMPLETED;
      this.notifier.notify(ok ? 'backup.completed' : 'backup.failed', backupData(jobData(job), record, job.backupId), { jobId: job.id });
      return;
    }
    const safety = await records.findByJob(job.id, [BackupType.PRE_RESTORE, BackupType.PRE_RESET]);
    for (const record of safety) {
      if (record.status === BackupStatus.IN_PROGRESS) continue;
      // The outcome is the safety backup's own, not its job's (a restore may fail after a good safety backup).
      const facts: JobEventData = {
        ...jobData(job),
        status: record.status,
        error: record.error,
        errorCode: null,
        message: null,
      };
      this.notifier.notify(record.status === BackupStatus.COMPLETED ? 'backup.completed' : 'backup.failed', backupData(facts, record, record.id), { jobId: job.id });
    }
    if (job.kind !== JobKind.RESTORE) return;
    const sourceId = typeof job.input?.backupId === 'string' ? job.input.backupId : null;
    const source = sourceId ? await records.get(sourceId) : null;
    const data: RestoreEventData = {
      ...jobData(job),
      backupId: sourceId,
      filename: source?.filename ?? (typeof job.input?.upload === 'string' ? job.input.upload : null),
      safetyBackupId: safety.find((r) => r.status === BackupStatus.COMPLETED)?.id ?? null,
    };
    this.notifier.notify(job.status === JobStatus.COMPLETED ? 'restore.completed' : 'restore.failed', data, { jobId: job.id });
  }
}

function jobData(job: Job): JobEventData {
  return {
    jobId: job.id,
    kind: job.kind,
    status: job.status,
    error: job.error ?? null,
    errorCode: job.errorCode ?? null,
    message: job.message ?? null,
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

function backupData(facts: JobEventData, record: BackupRecord | null, backupId: string | null): BackupEventData {
  return {
    ...facts,
    backupId,
    filename: record?.filename ?? null,
    type: record?.type ?? null,
    location: record?.location ?? null,
    fileSize: record?.fileSize ?? null,
    compressed: record?.compressed ?? null,
    encrypted: record?.encrypted ?? null,
    checksum: record?.checksum ?? null,
    storedLocally: record?.storedLocally ?? null,
    storedInCloud: record?.storedInCloud ?? null,
    cloudError: record?.cloudError ?? null,
  };
}
