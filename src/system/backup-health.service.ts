import { statfs } from 'node:fs/promises';
import type { BackupRecordStore } from '../backup/records/backup-record.store';
import type { BackupAnomaly } from '../backup/backup-anomalies';
import type { KindOutcome } from '../jobs/job-runner';
import type { ScheduleHealthFacts } from '../schedule/schedule.service';
import type { BackupHealth } from './backup-health.type';

export interface HealthSettings {
  backupDir: string;
  cloudConfigured: boolean;
  /** false (CLOUD_REQUIRED=false): a local-only installation by choice. */
  cloudRequired?: boolean;
  encryptionConfigured: boolean;
  /** The schedule's part, read once per evaluation. */
  schedule?: () => Promise<ScheduleHealthFacts>;
  /** How the scheduled restore drills last went; null before the first one. */
  lastDrill?: () => Promise<KindOutcome | null>;
  /** The change journal's problems while it is on (see JournalService.problems). */
  journal?: () => Promise<Array<{ code: HealthProblemCode; text: string }>>;
  /** The newest backup's size or content anomaly against the previous one with the same options. */
  newestAnomaly?: () => Promise<BackupAnomaly | null>;
  /** Whether Redis (REDIS_URL) answers now; undefined when it is not configured. */
  redisReachable?: () => boolean | undefined;
}

/** Stable names of health problems (their texts carry figures and times): metrics label them by these. */
export type HealthProblemCode =
  | 'NO_BACKUP_YET'
  | 'BACKUP_OVERDUE'
  | 'SCHEDULE_INVALID'
  | 'DRILL_FAILED'
  | 'DRILL_OVERDUE'
  | 'BACKUP_SUSPICIOUS'
  | 'BACKUPS_FAILED'
  | 'CLOUD_NOT_CONFIGURED'
  | 'CLOUD_COPIES_FAILED'
  | 'CLOUD_COPIES_UNENCRYPTED'
  | 'CLOUD_ENCRYPTION_OFF'
  | 'REDIS_UNREACHABLE'
  | 'DISK_LOW'
  | 'JOURNAL_SLOT_LOST'
  | 'JOURNAL_LAGGING'
  | 'JOURNAL_WAL_RETAINED'
  | 'JOURNAL_NO_BASE'
  | 'JOURNAL_OFFSITE_BEHIND';

const DAY_MS = 24 * 3600 * 1000;
const MIN_FREE_DISK = 0.1;

/** What an admin (or a monitor on GET /health/backups) needs to know about the backups. */
export class BackupHealthService {
  constructor(
    private readonly records: BackupRecordStore,
    private readonly settings: HealthSettings,
  ) {}

  /**
   * `shared`: only what every instance sees alike (from the database and the
   * configuration), leaving out this instance's own Redis link and disk, so
   * instances that share one health state (the webhook watcher) agree on it.
   * `public` (GET /health/backups, anonymous): the problems without file names, counts or job
   * errors; backupHealth and the notifications carry those.
   */
  async health(scope: 'instance' | 'shared' = 'instance', view: 'admin' | 'public' = 'admin'): Promise<BackupHealth> {
    const s = await this.records.stats(new Date(Date.now() - DAY_MS));
    const issues: Array<{ code: HealthProblemCode; text: string; publicText?: string }> = [];
    const problem = (code: HealthProblemCode, text: string, publicText?: string) => issues.push({ code, text, publicText });
    if (!s.lastSuccess) problem('NO_BACKUP_YET', 'No backup has completed yet');
    const schedule = await this.settings.schedule?.();
    const expected = schedule?.successExpectedSince;
    if (expected && s.lastSuccess && s.lastSuccess < expected.since) {
      problem(
        'BACKUP_OVERDUE',
        `No backup has succeeded within two periods of the ${expected.frequency} schedule (last success ${s.lastSuccess.toISOString()}, expected one since ${expected.since.toISOString()})`,
      );
    }
    for (const p of schedule?.problems ?? []) problem('SCHEDULE_INVALID', `Backup schedule: ${p}`);
    const drill = await this.settings.lastDrill?.();
    const drillDue = schedule?.drillExpectedSince;
    // A failed drill counts while drills are on: with them off nothing would ever clear it.
    if (drill && !drill.lastSucceeded && schedule?.drillsOn !== false) {
      problem('DRILL_FAILED', `The last restore drill failed (${drill.lastFinishedAt.toISOString()}): ${drill.lastMessage ?? 'no reason recorded'}`, 'The last restore drill failed');
    }
    if (drillDue && !(drill?.lastSuccessAt && drill.lastSuccessAt >= drillDue.since)) {
      problem(
        'DRILL_OVERDUE',
        `No restore drill has succeeded within two periods of the ${drillDue.frequency} drill schedule (last success ${drill?.lastSuccessAt?.toISOString() ?? 'never'}, expected one since ${drillDue.since.toISOString()})`,
      );
    }
    const anomaly = await this.settings.newestAnomaly?.();
    if (anomaly) problem('BACKUP_SUSPICIOUS', `The newest backup (${anomaly.filename}) looks suspicious: ${anomaly.reasons.join('; ')}`, 'The newest backup looks suspicious (much smaller than the one before, or a table emptied)');
    for (const p of (await this.settings.journal?.()) ?? []) problem(p.code, p.text);
    if (s.failedSince > 0) problem('BACKUPS_FAILED', `${s.failedSince} backup(s) failed in the last 24 hours`);
    const notes: string[] = [];
    if (!this.settings.cloudConfigured) {
      const localOnly = this.settings.cloudRequired === false ? 'CLOUD_REQUIRED=false' : schedule?.localOnlyBecause;
      if (localOnly) notes.push(`Local-only by choice (${localOnly}): every copy is on this machine; keep copies elsewhere (kiln download)`);
      else problem('CLOUD_NOT_CONFIGURED', 'Cloud storage is not configured (CLOUDINARY_URL): every copy is on this machine (set CLOUD_REQUIRED=false if that is intended)');
    }
    if (s.cloudFailedSince > 0) problem('CLOUD_COPIES_FAILED', `The cloud copy failed for ${s.cloudFailedSince} backup(s) in the last 24 hours`);
    if (s.plainCloud > 0) problem('CLOUD_COPIES_UNENCRYPTED', `${s.plainCloud} cloud cop${s.plainCloud === 1 ? 'y is' : 'ies are'} not encrypted (set BACKUP_ENCRYPTION_KEY)`);
    if (this.settings.cloudConfigured && !this.settings.encryptionConfigured) {
      problem('CLOUD_ENCRYPTION_OFF', 'New cloud copies will not be encrypted: set BACKUP_ENCRYPTION_KEY');
    }
    if (scope === 'instance' && this.settings.redisReachable?.() === false) {
      problem('REDIS_UNREACHABLE', 'Redis (REDIS_URL) is unreachable: job progress from other instances is not delivered');
    }
    const free = scope === 'instance' ? await freeShare(this.settings.backupDir) : null;
    if (free !== null && free < MIN_FREE_DISK) problem('DISK_LOW', `Less than 10% disk space is free where backups are kept (${Math.round(free * 100)}%)`);

    return {
      healthy: issues.length === 0,
      problems: issues.map((i) => (view === 'public' ? (i.publicText ?? i.text) : i.text)),
      problemCodes: issues.map((i) => i.code),
      notes,
      lastSuccessfulBackupAt: s.lastSuccess,
      lastFailedBackupAt: s.lastFailure,
      failedLast24h: s.failedSince,
      nextScheduledAt: schedule?.nextBackupAt ?? null,
      totalBackups: s.total,
      totalBytes: Number(s.bytes),
      localBytes: s.localBytes,
      cloudBytes: s.cloudBytes,
    };
  }
}

/** Share of the disk holding `dir` that is free, or null when it cannot be told (no folder yet). */
async function freeShare(dir: string): Promise<number | null> {
  try {
    const fs = await statfs(dir);
    return fs.blocks > 0 ? fs.bavail / fs.blocks : null;
  } catch {
    return null;
  }
}
