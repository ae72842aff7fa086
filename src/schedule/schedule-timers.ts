import { scheduleJob, type Job as TimerJob } from 'node-schedule';
import type { Logger } from '../logging/logger';
import type { BackupSchedule } from './settings/backup-schedule';
import type { ScheduleRunKind } from './schedule-run.entity';
import { BackupFrequency } from './schedule.enums';

/** The daily retention run, in the schedule's zone: an hour after the 2 AM backups. */
const DAILY_RETENTION_CRON = '0 3 * * *';

/** Arms a timer that calls `onFire` at each instant of `cron` in zone `tz`; null when it never fires. */
export type ArmTimer = (cron: string, tz: string, onFire: (fireDate: Date) => void) => TimerJob | null;

// The object form is what makes node-schedule honour the zone.
const nodeSchedule: ArmTimer = (cron, tz, onFire) => scheduleJob({ rule: cron, tz }, onFire);

/**
 * The node-schedule timers of one instance, one per kind of fire: the backups and the daily
 * retention run on the schedule's cron and zone, the drills on their own cron. Re-armed only when
 * the cron or zone they run on changed.
 */
export class ScheduleTimers {
  private readonly timers = new Map<ScheduleRunKind, TimerJob>();
  /** cron and zone the backup timers run on; null while disabled. */
  private backupKey: string | null = null;
  /** cron and zone the drill timer runs on; null while drills are off. */
  private drillKey: string | null = null;

  constructor(
    private readonly onFire: (kind: ScheduleRunKind, fireDate: Date) => void,
    private readonly logger: Logger,
    private readonly runs: { retention: boolean; drills: boolean },
    private readonly arm: ArmTimer = nodeSchedule,
  ) {}

  /** Follows `schedule`; returns it when backups are on (with a cron), else null. */
  follow(schedule: BackupSchedule): BackupSchedule | null {
    const cron = schedule.frequency !== BackupFrequency.DISABLED ? schedule.cron : null;
    const key = cron ? `${cron}|${schedule.timezone}` : null;
    if (key !== this.backupKey) {
      this.disarm('BACKUP', 'RETENTION');
      this.backupKey = key;
      if (cron) {
        this.set('BACKUP', cron, schedule.timezone);
        if (this.runs.retention) this.set('RETENTION', DAILY_RETENTION_CRON, schedule.timezone);
      } else {
        this.logger.info({ event: 'schedule_disabled' }, 'scheduled backups are off');
      }
    }
    // Drills run on their own timer: they check the backups there are, scheduled or not.
    const drillCron = this.runs.drills ? schedule.drillCron : null;
    const drillKey = drillCron ? `${drillCron}|${schedule.timezone}` : null;
    if (drillKey !== this.drillKey) {
      this.disarm('DRILL');
      this.drillKey = drillKey;
      if (drillCron) this.set('DRILL', drillCron, schedule.timezone);
    }
    return cron ? schedule : null;
  }

  /** The kinds of fire armed now. */
  armed(): ScheduleRunKind[] {
    return [...this.timers.keys()];
  }

  cancelAll(): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  private disarm(...kinds: ScheduleRunKind[]): void {
    for (const kind of kinds) {
      this.timers.get(kind)?.cancel();
      this.timers.delete(kind);
    }
  }

  private set(kind: ScheduleRunKind, cron: string, tz: string): void {
    const timer = this.arm(cron, tz, (fireDate) => this.onFire(kind, fireDate));
    if (!timer) {
      this.logger.warn({ event: 'schedule_never_fires', kind, cron, timezone: tz }, 'a schedule has no future fire time');
      return;
    }
    timer.on('error', (err) => this.logger.error({ event: 'schedule_fire_failed', kind, err }, 'a scheduled fire failed'));
    this.timers.set(kind, timer);
    this.logger.info({ event: 'schedule_armed', kind, cron, timezone: tz, next: timer.nextInvocation()?.toISOString?.() }, 'schedule armed');
  }
}
