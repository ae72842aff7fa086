import type { BackupService } from '../backup/backup.service';
import type { JobRunner } from '../jobs/job-runner';
import type { Logger } from '../logging/logger';
import { MissedFires } from './missed-fires';
import type { ScheduleClaims } from './schedule-claims';
import type { ScheduleRunKind } from './schedule-run.entity';
import type { ScheduleService } from './schedule.service';
import { ScheduledFires, type DrillStarter, type FireOrigin, type RetentionStarter } from './scheduled-fires';
import { ScheduleTimers, type ArmTimer } from './schedule-timers';

export type { DrillStarter, RetentionStarter };

export interface SchedulerOptions {
  /** How often the schedule row is re-read (an update on any instance takes effect within this). */
  pollMs: number;
  /** A claim not renewed for this long belongs to a dead instance and is taken over. */
  claimTtlMs: number;
  /** The clock (tests jump it forward). */
  now?: () => Date;
  /** Arms the fire timers (node-schedule unless a test drives the fires itself). */
  armTimer?: ArmTimer;
}

/**
 * Runs the backup schedule on every instance. Each instance arms timers from the schedule row
 * (re-read every poll, so updates apply everywhere without a restart: schedule-timers.ts); the
 * INSERT into kiln_schedule_runs keyed by the scheduled instant decides which instance runs a fire,
 * so it runs exactly once (scheduled-fires.ts). Each poll also takes over what a dead instance
 * left: a fire it claimed but never started, or whose job was interrupted (the job reaper in jobs/
 * fails such jobs), and a fire nobody claimed (every instance down, the clock jumped) gets one
 * catch-up run (missed-fires.ts).
 */
export class BackupScheduler {
  private readonly timers: ScheduleTimers;
  private readonly fires: ScheduledFires;
  private readonly missed: MissedFires;
  private seenVersion: string | null | undefined = undefined;
  /** The schedule while backups are on; null while disabled. */
  private schedule: Awaited<ReturnType<ScheduleService['get']>> | null = null;
  private poll?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private pollAgain = false;
  private stopped = false;

  constructor(
    private readonly schedules: ScheduleService,
    backups: BackupService,
    jobs: JobRunner,
    private readonly claims: ScheduleClaims,
    retention: RetentionStarter | undefined,
    private readonly logger: Logger,
    private readonly options: SchedulerOptions,
    drills?: DrillStarter,
  ) {
    this.fires = new ScheduledFires(schedules, backups, jobs, claims, retention, drills, logger);
    this.timers = new ScheduleTimers((kind, at) => this.fires.start(kind, at, 'timer'), logger, { retention: !!retention, drills: !!drills }, options.armTimer);
    this.missed = new MissedFires(claims, 2 * options.pollMs + 1000);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Arms the timers and starts polling; a database hiccup here is logged and retried by the next poll. */
  async start(): Promise<void> {
    await this.tick();
    // An update made on this instance applies here at once; the other instances poll for it.
    this.schedules.onUpdated(() => void this.tick());
    this.poll = setInterval(() => void this.tick(), this.options.pollMs);
    this.poll.unref();
  }

  /** Stops timers and polling; waits for fires being started (their jobs run on, or are queued). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    this.timers.cancelAll();
    await this.polling;
    // A poll that was mid-refresh may have armed timers after the first cancel.
    this.timers.cancelAll();
    await this.fires.stop();
  }

  /** The kinds of fire this instance has a timer for now (none: it will fire nothing until a poll re-arms it). */
  armed(): ScheduleRunKind[] {
    return this.timers.armed();
  }

  /** Resolves once no poll is going on (one an update started, say), without asking for another. */
  async idle(): Promise<void> {
    while (this.polling) await this.polling;
  }

  /**
   * One fire of `kind`, for tests that drive fires themselves: a timer's (run only when it is a fire
   * of the schedule as saved) or, for any instant, what the poll's catch-up does with a fire it found due.
   */
  fire(kind: ScheduleRunKind, fireDate: Date, how: FireOrigin): Promise<void> {
    return this.fires.fire(kind, fireDate, how);
  }

  /** One poll: follow the schedule, take over what dead instances left, catch up a missed fire. Never throws. */
  tick(): Promise<void> {
    if (this.polling) {
      // A poll already past its read of the schedule would miss a change made now: poll again after it.
      this.pollAgain = true;
      return this.polling;
    }
    this.polling = (async () => {
      try {
        await this.refresh();
        await this.takeOver();
        await this.catchUp();
      } catch (err) {
        this.logger.warn({ event: 'schedule_poll_failed', err }, 'schedule poll failed; retrying at the next one');
      }
    })().finally(() => {
      this.polling = undefined;
      if (this.pollAgain && !this.stopped) {
        this.pollAgain = false;
        void this.tick();
      }
    });
    return this.polling;
  }

  /** Re-reads the schedule when it changed; the timers follow it. */
  private async refresh(): Promise<void> {
    const version = await this.schedules.version();
    if (version === this.seenVersion || this.stopped) return;
    this.seenVersion = version;
    const schedule = await this.schedules.get();
    if (this.stopped) return;
    this.schedule = this.timers.follow(schedule);
  }

  /** Takes over the fires dead instances held: claimed and never started, or their job interrupted. */
  private async takeOver(): Promise<void> {
    if (this.stopped) return;
    const runs = [...(await this.claims.takeOverStale(this.options.claimTtlMs)), ...(await this.claims.takeOverInterrupted())];
    for (const run of runs) {
      this.logger.warn({ event: 'schedule_fire_taken_over', kind: run.kind, scheduledFor: run.scheduledFor }, 'taking over a fire its instance left unfinished');
      this.fires.start(run.kind, run.scheduledFor, 'takeover');
    }
  }

  /** One catch-up run for the latest scheduled backup nobody claimed (missed-fires.ts). */
  private async catchUp(): Promise<void> {
    if (!this.schedule || this.stopped) return;
    const missed = await this.missed.latestMissed(this.schedule, this.now());
    if (!missed) return;
    this.logger.warn({ event: 'schedule_catch_up', scheduledFor: missed }, 'a scheduled backup was missed; running it now');
    this.fires.start('BACKUP', missed, 'catch-up');
  }
}
