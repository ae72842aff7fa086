import { BackupStatus, BackupType } from '../backup/backup.enums';

/** What the selection needs to know about a backup. */
export interface RetentionCandidate {
  id: string;
  type: BackupType;
  status: BackupStatus;
  createdAt: Date;
}

export interface RetentionPolicy {
  /** Backups older than this many days go. */
  retentionDays: number;
  /** The newest this many COMPLETED backups stay, whatever their age. */
  keepAtLeast: number;
}

/** PRE_RESTORE and PRE_RESET backups are the way back from a restore or reset gone wrong: kept at least this long. */
export const SAFETY_BACKUP_MIN_DAYS = 7;

const SAFETY_TYPES: ReadonlySet<BackupType> = new Set([BackupType.PRE_RESTORE, BackupType.PRE_RESET]);
const DAY_MS = 86_400_000;

/** Backups created before this instant are past `days` of retention. */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

/**
 * The backups a retention run deletes, oldest first: those older than
 * retentionDays (safety backups: older than max(retentionDays, 7 days)),
 * except the newest `keepAtLeast` COMPLETED ones (FAILED runs never count,
 * so a streak of failures cannot prune the last good copies), any backup
 * still IN_PROGRESS, one whose status neither the app nor Kiln knows (UNKNOWN:
 * not Kiln's to judge), and any backup a running job reads (`inUse`).
 * The one selection behind both retentionPreview and the RETENTION job.
 */
export function selectExpired<T extends RetentionCandidate>(
  backups: readonly T[],
  policy: RetentionPolicy,
  now: Date,
  inUse: ReadonlySet<string>,
): T[] {
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const kept = new Set(
    newestFirst
      .filter((b) => b.status === BackupStatus.COMPLETED)
      .slice(0, policy.keepAtLeast)
      .map((b) => b.id),
  );
  const cutoff = retentionCutoff(now, policy.retentionDays);
  const safetyCutoff = retentionCutoff(now, Math.max(policy.retentionDays, SAFETY_BACKUP_MIN_DAYS));
  return newestFirst
    .filter(
      (b) =>
        b.status !== BackupStatus.IN_PROGRESS &&
        b.status !== BackupStatus.UNKNOWN &&
        !inUse.has(b.id) &&
        !kept.has(b.id) &&
        b.createdAt.getTime() < (SAFETY_TYPES.has(b.type) ? safetyCutoff : cutoff).getTime(),
    )
    .reverse();
}
