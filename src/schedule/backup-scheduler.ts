import { setTimeout as sleep } from 'node:timers/promises';
import { clientError } from '../errors/unexpected-error';
import { scheduleJob, type Job as TimerJob } from 'node-schedule';
import type { BackupService, CreateBackupOptions } from '../backup/backup.service';
import { BackupType } from '../backup/backup.enums';
import { ConflictError } from '../errors/kiln-errors';
import type { JobRunner } from '../jobs/job-runner';
import { JobStatus } from '../jobs/job.enums';
import type { Logger } from '../logging/logger';
import type { BackupSchedule } from './settings/backup-schedule';
import { previousFireTime } from './cron-math';
import type { ScheduleClaims } from './schedule-claims';
import type { ScheduleRunKind } from './schedule-run.entity';
import { BackupFrequency } from './schedule.enums';
import type { ScheduleService } from './schedule.service';

/** Retention as the scheduler starts it: after each scheduled backup, and daily. */
export interface RetentionStarter {
  start(trigger: 'SCHEDULE' | 'DAILY', actor: null): Promise<{ id: string }>;
}

/** The scheduled restore drill as the scheduler starts it. */
export interface DrillStarter {
  scheduledDrill(): Promise<{ id: string; backupId: string | null }>;
}

export interface SchedulerOptions {
  /** How often the schedule row is re-read (an update on any instance takes effect within this). */
  pollMs: number;
  /** A claim not renewed for this long belongs to a dead instance and is taken over. */
  claimTtlMs: number;
  /** While another job holds the lease, a scheduled backup retries this often… */
  busyRetryMs?: number;
  /** …for this long, then is recorded as FAILED. */
  busyTimeoutMs?: number;
  /** The clock (tests jump it forward). */
  now?: () => Date;
}

/** The daily retention run, in the schedule's zone: an hour after the 2 AM backups. */
const DAILY_RETENTION_CRON = '0 3 * * *';

/**
 * Runs the backup schedule on every instance. Each instance arms node-schedule
 * timers from the schedule row (re-read every poll, so updates apply everywhere
 * without a restart); the INSERT into kiln_schedule_runs keyed by the
 * scheduled instant decides which instance runs a fire, so it runs exactly once.
 * Each poll also repairs what a dead instance left: interrupted jobs are
 * failed, a fire it claimed but never started (or whose backup it abandoned)
 * is taken over, and a fire nobody claimed (every instance down, the clock
 * jumped) gets one catch-up run.
 */
export class BackupScheduler {
  private readonly timers = new Map<ScheduleRunKind, TimerJob>();
  /** cron and zone the backup timers run on; null while disabled. */
  private timerKey: string | null = null;
  /** cron and zone the drill timer runs on; null while drills are off. */
  private drillTimerKey: string | null = null;
  private seenVersion: string | null | undefined = undefined;
  private schedule: BackupSchedule | null = null;
  /** Latest instant the catch-up check found claimed (saves a query per poll). */
  private checkedUpTo = 0;
  private lastSweep = 0;
  private poll?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private pollAgain = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly schedules: ScheduleService,
    private readonly backups: BackupService,
    private readonly jobs: JobRunner,
    private readonly claims: ScheduleClaims,
    private readonly retention: RetentionStarter | undefined,
    private readonly logger: Logger,
    private readonly options: SchedulerOptions,
    private readonly drills?: DrillStarter,
  ) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /**
   * Arms the timers and starts polling. The first poll is also the start-up
   * recovery (jobs a crash left RUNNING, their partial files); a database
   * hiccup here is logged and retried by the next poll.
   */
  async start(): Promise<void> {
    await this.tick();
    // An update made on this instance applies here at once; the other instances poll for it.
    this.schedules.onUpdated(() => void this.tick());
    this.poll = setInterval(() => void this.tick(), this.options.pollMs);
    this.poll.unref();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Stops timers and polling; waits for fires in progress (a waiting one gives up and is recorded as FAILED). */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.poll);
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    await this.polling;
    // A poll that was mid-refresh may have armed timers after the first cancel.
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** One poll: follow the schedule, repair what dead instances left, catch up a missed fire. Never throws. */
  tick(): Promise<void> {
    if (this.polling) {
      // A poll already past its read of the schedule would miss a change made now: poll again after it.
      this.pollAgain = true;
      return this.polling;
    }
    this.polling = (async () => {
      try {
        await this.refresh();
        await this.repair();
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

  /** Re-reads the schedule; re-arms the backup or the drill timers when their cron or zone changed. */
  private async refresh(): Promise<void> {
    const version = await this.schedules.version();
    if (version === this.seenVersion || this.stopped) return;
    this.seenVersion = version;
    const schedule = await this.schedules.get();
    if (this.stopped) return;
    const cron = schedule.frequency !== BackupFrequency.DISABLED ? schedule.cron : null;
    this.schedule = cron ? schedule : null;
    const key = cron ? `${cron}|${schedule.timezone}` : null;
    if (key !== this.timerKey) {
      this.disarm('BACKUP', 'RETENTION');
      this.timerKey = key;
      if (cron) {
        this.arm('BACKUP', cron, schedule.timezone);
        if (this.retention) this.arm('RETENTION', DAILY_RETENTION_CRON, schedule.timezone);
      } else {
        this.logger.info({ event: 'schedule_disabled' }, 'scheduled backups are off');
      }
    }
    // Drills run on their own timer: they check the backups there are, scheduled or not.
    const drillCron = this.drills ? schedule.drillCron : null;
    const drillKey = drillCron ? `${drillCron}|${schedule.timezone}` : null;
    if (drillKey !== this.drillTimerKey) {
      this.disarm('DRILL');
      this.drillTimerKey = drillKey;
      if (drillCron) this.arm('DRILL', drillCron, schedule.timezone);
    }
  }

  private disarm(...kinds: ScheduleRunKind[]): void {
    for (const kind of kinds) {
      this.timers.get(kind)?.cancel();
      this.timers.delete(kind);
    }
  }

  private arm(kind: ScheduleRunKind, cron: string, tz: string): void {
    // The object form is what makes node-schedule honour the zone.
    const timer = scheduleJob({ rule: cron, tz }, (fireDate: Date) => this.track(this.fire(kind, fireDate, 'timer')));
    if (!timer) {
      this.logger.warn({ event: 'schedule_never_fires', kind, cron, timezone: tz }, 'a schedule has no future fire time');
      return;
    }
    timer.on('error', (err) => this.logger.error({ event: 'schedule_fire_failed', kind, err }, 'a scheduled fire failed'));
    this.timers.set(kind, timer);
    this.logger.info({ event: 'schedule_armed', kind, cron, timezone: tz, next: timer.nextInvocation()?.toISOString?.() }, 'schedule armed');
  }

  private track(fire: Promise<void>): void {
    this.inFlight.add(fire);
    void fire.finally(() => this.inFlight.delete(fire));
  }

  /**
   * Fails jobs whose gateway stopped heart-beating (at most twice per claim
   * TTL), then takes over the fires such gateways held.
   */
  private async repair(): Promise<void> {
    if (Date.now() - this.lastSweep >= this.options.claimTtlMs / 2) {
      this.lastSweep = Date.now();
      await this.backups.recoverInterrupted();
    }
    if (this.stopped) return;
    const runs = [...(await this.claims.takeOverStale(this.options.claimTtlMs)), ...(await this.claims.takeOverInterrupted())];
    for (const run of runs) {
      this.logger.warn({ event: 'schedule_fire_taken_over', kind: run.kind, scheduledFor: run.scheduledFor }, 'taking over a fire its instance left unfinished');
      this.track(this.fire(run.kind, run.scheduledFor, 'takeover'));
    }
  }

  /**
   * One catch-up run for the latest scheduled backup nobody claimed — every
   * instance was down, or the clock jumped past it — unless the schedule only
   * started after it or a scheduled run started since (instances whose polls
   * differ may judge different fires "latest": a run started after a fire
   * covers it). Older misses are not replayed.
   */
  private async catchUp(): Promise<void> {
    const schedule = this.schedule;
    if (!schedule?.cron || this.stopped) return;
    // The timers get the first go; a fire still unclaimed a few polls later was missed.
    const graceMs = 2 * this.options.pollMs + 1000;
    const missed = previousFireTime(schedule.cron, schedule.timezone, new Date(this.now().getTime() - graceMs));
    if (!missed || missed.getTime() <= this.checkedUpTo) return;
    if (missed <= schedule.updatedAt || (schedule.lastBackupAt && missed <= schedule.lastBackupAt)) return;
    if (await this.claims.coveredSince('BACKUP', missed)) {
      this.checkedUpTo = missed.getTime();
      return;
    }
    this.logger.warn({ event: 'schedule_catch_up', scheduledFor: missed }, 'a scheduled backup was missed; running it now');
    this.checkedUpTo = missed.getTime();
    this.track(this.fire('BACKUP', missed, 'catch-up'));
  }

  /** One fire of `kind`; `takeover` means the claim is already ours. Never throws. */
  private async fire(kind: ScheduleRunKind, fireDate: Date, how: 'timer' | 'catch-up' | 'takeover'): Promise<void> {
    // Timers fire a few ms late: the claim is keyed by the whole second. A taken-over claim keeps its key.
    const scheduledFor = how === 'takeover' ? fireDate : new Date(Math.floor(fireDate.getTime() / 1000) * 1000);
    try {
      // A stopping gateway starts nothing new; an unclaimed fire is left to the other instances.
      if (this.stopped) return;
      if (how !== 'takeover' && !(await this.claims.claim(kind, scheduledFor))) return;
      if (kind === 'RETENTION') await this.startRetention(scheduledFor, 'DAILY');
      else if (kind === 'DRILL') await this.startDrill(scheduledFor);
      else await this.startBackup(scheduledFor, how);
    } catch (err) {
      this.logger.error({ event: 'schedule_fire_failed', kind, scheduledFor, err }, 'a scheduled fire failed');
    }
  }

  /** Starts the scheduled backup, waiting (bounded, claim renewed) while another job holds the lease. */
  private async startBackup(scheduledFor: Date, how: string): Promise<void> {
    const schedule = await this.schedules.get();
    const options: CreateBackupOptions = {
      location: schedule.location,
      includeAuditLogs: schedule.includeAuditLogs,
      includeSessions: schedule.includeSessions,
    };
    // The claim is renewed at least three times per TTL while we wait.
    const retryMs = Math.min(this.options.busyRetryMs ?? 10_000, this.options.claimTtlMs / 3);
    const startedWaiting = Date.now();
    const deadline = startedWaiting + (this.options.busyTimeoutMs ?? 300_000);
    for (;;) {
      try {
        const job = await this.backups.create(options, BackupType.SCHEDULED, null);
        if (!(await this.claims.recordRun('BACKUP', scheduledFor, { jobId: job.id, backupId: job.backupId ?? null }))) {
          this.logger.warn({ event: 'schedule_claim_lost', scheduledFor, jobId: job.id }, 'this fire was taken over while its backup started');
        }
        await this.schedules.markBackupStarted(new Date());
        // lagMs: how late the backup started against its scheduled time (fire-time accuracy).
        this.logger.info(
          { event: 'scheduled_backup_started', scheduledFor, how, jobId: job.id, backupId: job.backupId, lagMs: Date.now() - scheduledFor.getTime() },
          'scheduled backup started',
        );
        // Not tracked: stop() must not wait for the backup itself (shutdown interrupts it).
        void this.pruneAfter(job.id, scheduledFor);
        return;
      } catch (err) {
        const busy = err instanceof ConflictError;
        if (busy && Date.now() + retryMs <= deadline && !this.stopped) {
          await sleep(retryMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
          if (!this.stopped) {
            if (await this.claims.renew('BACKUP', scheduledFor)) continue;
            this.logger.warn({ event: 'schedule_claim_lost', scheduledFor }, 'another instance took this fire over while it waited; leaving it to that one');
            return;
          }
        }
        const why = this.stopped
          ? `the gateway stopped while it waited for the running job (${(err as Error).message})`
          : busy
            ? `another job still held the job lease after ${Math.round((Date.now() - startedWaiting) / 1000)} s of waiting (${(err as Error).message})`
            : clientError(this.logger, err, 'scheduled backup could not start', { scheduledFor }).message;
        // Recorded by whoever holds the claim: if another instance took it, the outcome is its to tell.
        if (!(await this.claims.renew('BACKUP', scheduledFor))) return;
        const record = await this.backups.recordFailed(options, BackupType.SCHEDULED, `Scheduled backup for ${scheduledFor.toISOString()} did not run: ${why}`);
        await this.claims.recordRun('BACKUP', scheduledFor, { jobId: null, backupId: record.id });
        this.logger.error({ event: 'scheduled_backup_failed', scheduledFor, backupId: record.id, reason: why }, 'scheduled backup could not start');
        return;
      }
    }
  }

  /** After a scheduled backup completes, retention prunes what it made redundant. */
  private async pruneAfter(jobId: string, scheduledFor: Date): Promise<void> {
    if (!this.retention) return;
    await this.jobs.settled(jobId);
    if (this.stopped) return;
    const job = await this.jobs.get(jobId).catch(() => null);
    if (job?.status !== JobStatus.COMPLETED || this.stopped) return;
    await this.startRetention(scheduledFor, 'SCHEDULE');
  }

  /** Starts this fire's drill and records its job on the claim (its result stays with the job). */
  private async startDrill(scheduledFor: Date): Promise<void> {
    if (!this.drills) return;
    const job = await this.drills.scheduledDrill();
    await this.claims.recordRun('DRILL', scheduledFor, { jobId: job.id, backupId: job.backupId });
    this.logger.info({ event: 'scheduled_drill_started', scheduledFor, jobId: job.id, backupId: job.backupId }, 'scheduled restore drill started');
  }

  private async startRetention(scheduledFor: Date, trigger: 'SCHEDULE' | 'DAILY'): Promise<void> {
    try {
      const job = await this.retention!.start(trigger, null);
      if (trigger === 'DAILY') await this.claims.recordRun('RETENTION', scheduledFor, { jobId: job.id, backupId: null });
    } catch (err) {
      // A retention run already going on covers this one.
      const level = err instanceof ConflictError ? 'info' : 'error';
      this.logger[level]({ event: 'retention_not_started', trigger, err }, 'retention did not start');
    }
  }
}
