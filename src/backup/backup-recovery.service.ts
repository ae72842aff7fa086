import { JobKind } from '../jobs/job.enums';
import type { JobRunner } from '../jobs/job-runner';
import type { StorageDriver } from '../storage/storage-driver';
import { BackupStatus } from './backup.enums';
import type { BackupRecordStore } from './records/backup-record.store';

/** Crash recovery of backups: the records and temporary files of jobs that died. */
export class BackupRecoveryService {
  constructor(
    private readonly runner: JobRunner,
    private readonly records: BackupRecordStore,
    /** Kiln's stores, whose temporary objects may outlive a crash. */
    private readonly stores: StorageDriver[],
  ) {}

  /**
   * After a crash (the sweep of every instance's job reaper, at start and twice per lease TTL):
   * records of interrupted jobs become FAILED, partial files of jobs no longer running go.
   */
  async recoverInterrupted(): Promise<void> {
    const interrupted = await this.runner.failInterruptedJobs();
    for (const job of interrupted) {
      if (job.kind !== JobKind.BACKUP || !job.backupId) continue;
      await this.records.update(job.backupId, { status: BackupStatus.FAILED, error: job.error, completedAt: new Date() }, BackupStatus.IN_PROGRESS);
    }
    for (const store of this.stores) await store.removeIncomplete(() => this.runner.activeJobIds());
  }
}
