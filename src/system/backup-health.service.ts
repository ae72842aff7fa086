import { statfs } from 'node:fs/promises';
import type { BackupRecordStore } from '../backup/records/backup-record.store';
import type { BackupAnomaly } from '../backup/backup-anomalies';
import type { KindOutcome } from '../jobs/job-runner';
import type { BackupHealth } from './backup-health.type';

export interface HealthSettings {
  backupDir: string;
  cloudConfigured: boolean;
  encryptionConfigured: boolean;
  /** The schedule's next fire, once schedules exist. */
  nextScheduledAt?: () => Promise<Date | null>;
  /** When the schedule says a backup should last have succeeded (two fires back); null without a schedule. */
  successExpectedSince?: () => Promise<{ since: Date; frequency: string } | null>;
  /** What the stored schedule holds that nothing can run (e.g. a frequency neither side knows). */
  scheduleProblems?: () => Promise<string[]>;
  /**
   * Why this installation keeps its backups on its own disk by choice (CLOUD_REQUIRED=false, or a
   * schedule in force with location LOCAL), or null: then "cloud not configured" is a note, not a problem.
   */
  localOnlyBecause?: () => Promise<string | null>;
  /** Since when a drill should have succeeded (two drill periods back); null while drills are off or new. */
  drillExpectedSince?: () => Promise<{ since: Date; frequency: string } | null>;
  /** How the scheduled restore drills last went; null before the first one. */
  lastDrill?: () => Promise<KindOutcome | null>;
  /** The newest backup's size or content anomaly against the previous one with the same options. */
  newestAnomaly?: () => Promise<BackupAnomaly | null>;
  /** Whether Redis (REDIS_URL) answers now; undefined when it is not configured. */
  redisReachable?: () => boolean | undefined;
}

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
   */
  async health(scope: 'instance' | 'shared' = 'instance'): Promise<BackupHealth> {
    const s = await this.records.stats(new Date(Date.now() - DAY_MS));
    const stats = { lastSuccess: s.lastSuccess, lastFailure: s.lastFailure, failed24h: s.failedSince, total: s.total, bytes: s.bytes, cloudFailed24h: s.cloudFailedSince, plainCloud: s.plainCloud };
    const problems: string[] = [];
    if (!stats.lastSuccess) problems.push('No backup has completed yet');
    const expected = await this.settings.successExpectedSince?.();
    if (expected && stats.lastSuccess && stats.lastSuccess < expected.since) {
      problems.push(
        `No backup has succeeded within two periods of the ${expected.frequency} schedule (last success ${stats.lastSuccess.toISOString()}, expected one since ${expected.since.toISOString()})`,
      );
    }
    problems.push(...((await this.settings.scheduleProblems?.()) ?? []).map((p) => `Backup schedule: ${p}`));
    const drill = await this.settings.lastDrill?.();
    if (drill && !drill.lastSucceeded) {
      problems.push(`The last restore drill failed (${drill.lastFinishedAt.toISOString()}): ${drill.lastMessage ?? 'no reason recorded'}`);
    }
    const drillDue = await this.settings.drillExpectedSince?.();
    if (drillDue && !(drill?.lastSuccessAt && drill.lastSuccessAt >= drillDue.since)) {
      problems.push(
        `No restore drill has succeeded within two periods of the ${drillDue.frequency} drill schedule (last success ${drill?.lastSuccessAt?.toISOString() ?? 'never'}, expected one since ${drillDue.since.toISOString()})`,
      );
    }
    const anomaly = await this.settings.newestAnomaly?.();
    if (anomaly) problems.push(`The newest backup (${anomaly.filename}) looks suspicious: ${anomaly.reasons.join('; ')}`);
    if (stats.failed24h > 0) problems.push(`${stats.failed24h} backup(s) failed in the last 24 hours`);
    const notes: string[] = [];
    if (!this.settings.cloudConfigured) {
      const localOnly = await this.settings.localOnlyBecause?.();
      if (localOnly) notes.push(`Local-only by choice (${localOnly}): every copy is on this machine; keep copies elsewhere (kiln download)`);
      else problems.push('Cloud storage is not configured (CLOUDINARY_URL): every copy is on this machine (set CLOUD_REQUIRED=false if that is intended)');
    }
    if (stats.cloudFailed24h > 0) problems.push(`The cloud copy failed for ${stats.cloudFailed24h} backup(s) in the last 24 hours`);
    if (stats.plainCloud > 0) problems.push(`${stats.plainCloud} cloud cop${stats.plainCloud === 1 ? 'y is' : 'ies are'} not encrypted (set BACKUP_ENCRYPTION_KEY)`);
    if (this.settings.cloudConfigured && !this.settings.encryptionConfigured) {
      problems.push('New cloud copies will not be encrypted: set BACKUP_ENCRYPTION_KEY');
    }
    if (scope === 'instance' && this.settings.redisReachable?.() === false) {
      problems.push('Redis (REDIS_URL) is unreachable: job progress from other instances is not delivered');
    }
    const free = scope === 'instance' ? await freeShare(this.settings.backupDir) : null;
    if (free !== null && free < MIN_FREE_DISK) problems.push(`Less than 10% disk space is free where backups are kept (${Math.round(free * 100)}%)`);

    return {
      healthy: problems.length === 0,
      problems,
      notes,
      lastSuccessfulBackupAt: stats.lastSuccess,
      lastFailedBackupAt: stats.lastFailure,
      failedLast24h: stats.failed24h,
      nextScheduledAt: (await this.settings.nextScheduledAt?.()) ?? null,
      totalBackups: stats.total,
      totalBytes: Number(stats.bytes),
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
