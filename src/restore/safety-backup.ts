import { BackupType } from '../backup/backup.enums';
import type { BackupRun, BackupService } from '../backup/backup.service';
import type { BackupRecord } from '../backup/records/backup-record';
import type { ProgressSink } from '../jobs/progress-meter';

/**
 * The PRE_RESTORE backup a restore takes of the live data before it replaces them: a full
 * backup inside the restore's job. A restore refused because of its file leaves nothing of it.
 */
export class SafetyBackup {
  private taken = false;

  constructor(
    private readonly backups: BackupService,
    private readonly run: BackupRun,
    private readonly actorId: string | null,
  ) {}

  take(progress: ProgressSink['update']): Promise<BackupRecord> {
    this.taken = true;
    return this.backups.backupWithin({ ...this.run, progress: { update: progress } }, BackupType.PRE_RESTORE, this.actorId);
  }

  /** The restore was refused (nothing was changed, nobody was told of the backup): its files and records go. */
  async discard(): Promise<void> {
    if (this.taken) await this.backups.discard(this.run.job.id, BackupType.PRE_RESTORE);
  }
}
