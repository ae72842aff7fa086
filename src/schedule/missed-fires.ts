import type { BackupSchedule } from './settings/backup-schedule';
import { previousFireTime } from './cron-math';
import type { ScheduleClaims } from './schedule-claims';

/**
 * Finds the latest scheduled backup nobody claimed — every instance was down, or the clock
 * jumped past it — for one catch-up run, unless the schedule only started after it or a scheduled
 * run started since (instances whose polls differ may judge different fires "latest": a run
 * started after a fire covers it). Older misses are not replayed.
 */
export class MissedFires {
  /** Latest instant found claimed or handed out (saves a query per poll). */
  private checkedUpTo = 0;

  constructor(
    private readonly claims: ScheduleClaims,
    /** The timers get the first go: a fire still unclaimed this long after its time was missed. */
    private readonly graceMs: number,
  ) {}

  /** The instant to run a catch-up backup for now, if any; each is handed out once. */
  async latestMissed(schedule: BackupSchedule, now: Date): Promise<Date | null> {
    if (!schedule.cron) return null;
    const missed = previousFireTime(schedule.cron, schedule.timezone, new Date(now.getTime() - this.graceMs));
    if (!missed || missed.getTime() <= this.checkedUpTo) return null;
    if (missed <= schedule.updatedAt || (schedule.lastBackupAt && missed <= schedule.lastBackupAt)) return null;
    const covered = await this.claims.coveredSince('BACKUP', missed);
    this.checkedUpTo = missed.getTime();
    return covered ? null : missed;
  }
}
