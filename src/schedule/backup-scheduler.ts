import { setTimeout as sleep } from 'node:timers/promises';
import { scheduleJob, type Job as TimerJob } from 'node-schedule';
import type { DataSource } from 'typeorm';
import type { BackupService, CreateBackupOptions } from '../backup/backup.service';
import { BackupType } from '../backup/backup.enums';
import { ConflictError } from '../errors/kiln-errors';
import type { Logger } from '../logging/logger';
import { BackupFrequency } from './schedule.enums';
import type { ScheduleService } from './schedule.service';

export interface SchedulerOptions {
  /** Names this instance in the claims it wins. */
  instanceId: string;
  /** How often the schedule row is re-read (an update on any instance takes effect within this). */
  pollMs: number;
  /** While another job holds the lease, a scheduled backup retries this often… */
  busyRetryMs?: number;
  /** …for this long, then is recorded as FAILED. */
  busyTimeoutMs?: number;
}

/**
 * Runs the backup schedule on every instance: a node-schedule timer per
 * schedule, re-read from the database so updates apply everywhere without a
 * restart. Each instance's timer fires; the INSERT into kiln_schedule_runs
 * keyed by the scheduled time decides which one starts the backup, so a fire
 * runs exactly once while any instance is up. A fire only starts a job.
 */
export class BackupScheduler {
  private timer: TimerJob | null = null;
  /** cron and zone the timer runs on; null while disabled. */
  private timerKey: string | null = null;
  private seenUpdatedAt: number | null | undefined = undefined;
  private poll?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly dataSource: DataSource,
    private readonly schedules: ScheduleService,
    private readonly backups: BackupService,
    private readonly logger: Logger,
    private readonly options: SchedulerOptions,
  ) {}

  /** Arms the timer and starts polling; a database hiccup here is logged and retried by the poll. */
  async start(): Promise<void> {
    await this.refresh().catch((err) => this.logger.warn({ event: 'schedule_poll_failed', err }, 'could not read the backup schedule'));
    this.poll = setInterval(() => {
      if (this.polling) return;
      this.polling = this.refresh()
        .catch((err) => this.logger.warn({ event: 'schedule_poll_failed', err }, 'could not re-read the backup schedule'))
        .finally(() => (this.polling = undefined));
    }, this.options.pollMs);
    this.poll.unref();
  }

  /** Stops the timer and polling; waits for fires in progress (a waiting one gives up and is recorded as FAILED). */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.poll);
    this.timer?.cancel();
    this.timer = null;
    await this.polling;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Re-reads the schedule; (re)arms the timer when its cron or zone changed. */
  async refresh(): Promise<void> {
    const row = await this.schedules.stored();
    const updatedAt = row ? row.updatedAt.getTime() : null;
    if (updatedAt === this.seenUpdatedAt || this.stopping.signal.aborted) return;
    this.seenUpdatedAt = updatedAt;
    const schedule = await this.schedules.get();
    const cron = schedule.frequency !== BackupFrequency.DISABLED ? schedule.cron : null;
    const key = cron ? `${cron}|${schedule.timezone}` : null;
    if (key === this.timerKey || this.stopping.signal.aborted) return;
    this.timer?.cancel();
    this.timer = null;
    this.timerKey = key;
    if (!cron) {
      this.logger.info({ event: 'schedule_disabled' }, 'scheduled backups are off');
      return;
    }
    // The object form is what makes node-schedule honour the zone.
    const timer = scheduleJob({ rule: cron, tz: schedule.timezone }, (fireDate: Date) => {
      const fire = this.fire(fireDate).finally(() => this.inFlight.delete(fire));
      this.inFlight.add(fire);
    });
    if (!timer) {
      this.logger.warn({ event: 'schedule_never_fires', cron, timezone: schedule.timezone }, 'the backup schedule has no future fire time');
      return;
    }
    timer.on('error', (err) => this.logger.error({ event: 'schedule_fire_failed', err }, 'a scheduled backup fire failed'));
    this.timer = timer;
    this.logger.info({ event: 'schedule_armed', cron, timezone: schedule.timezone, next: timer.nextInvocation()?.toISOString?.() }, 'backup schedule armed');
  }

  /** One fire: claim it, then start the backup, waiting (bounded) for a busy lease. Never throws. */
  private async fire(fireDate: Date): Promise<void> {
    const scheduledFor = new Date(Math.floor(fireDate.getTime() / 1000) * 1000);
    try {
      if (!(await this.claim(scheduledFor))) return;
      const schedule = await this.schedules.get();
      const options: CreateBackupOptions = {
        location: schedule.location,
        includeAuditLogs: schedule.includeAuditLogs,
        includeSessions: schedule.includeSessions,
      };
      const retryMs = this.options.busyRetryMs ?? 10_000;
      const startedWaiting = Date.now();
      const waitedMs = () => Date.now() - startedWaiting;
      const deadline = startedWaiting + (this.options.busyTimeoutMs ?? 300_000);
      for (;;) {
        try {
          const job = await this.backups.create(options, BackupType.SCHEDULED, null);
          await this.recordRun(scheduledFor, { jobId: job.id, backupId: job.backupId ?? null });
          await this.schedules.markBackupStarted(new Date());
          this.logger.info({ event: 'scheduled_backup_started', scheduledFor, jobId: job.id, lagMs: Date.now() - scheduledFor.getTime() }, 'scheduled backup started');
          return;
        } catch (err) {
          const busy = err instanceof ConflictError;
          if (busy && Date.now() + retryMs <= deadline && !this.stopping.signal.aborted) {
            await sleep(retryMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
            if (!this.stopping.signal.aborted) continue;
          }
          const why = this.stopping.signal.aborted
            ? `the gateway stopped while it waited for the running job (${(err as Error).message})`
            : busy
              ? `another job still held the job lease after ${Math.round(waitedMs() / 1000)} s of waiting (${(err as Error).message})`
              : (err as Error).message;
          const record = await this.backups.recordFailed(options, BackupType.SCHEDULED, `Scheduled backup for ${scheduledFor.toISOString()} did not run: ${why}`);
          await this.recordRun(scheduledFor, { jobId: null, backupId: record.id });
          this.logger.error({ event: 'scheduled_backup_failed', scheduledFor, backupId: record.id, reason: why }, 'scheduled backup could not start');
          return;
        }
      }
    } catch (err) {
      this.logger.error({ event: 'schedule_fire_failed', scheduledFor, err }, 'a scheduled backup fire failed');
    }
  }

  /** True when this instance's INSERT won the fire; every other instance's is a no-op. */
  private async claim(scheduledFor: Date): Promise<boolean> {
    const rows = await this.dataSource.query(
      `INSERT INTO "kiln_schedule_runs" ("scheduledFor", "claimedBy")
       VALUES (($1::timestamptz AT TIME ZONE 'UTC'), $2)
       ON CONFLICT ("scheduledFor") DO NOTHING
       RETURNING "scheduledFor"`,
      [scheduledFor.toISOString(), this.options.instanceId],
    );
    return rows.length === 1;
  }

  private async recordRun(scheduledFor: Date, run: { jobId: string | null; backupId: string | null }): Promise<void> {
    await this.dataSource.query(
      `UPDATE "kiln_schedule_runs" SET "jobId" = $2, "backupId" = $3 WHERE "scheduledFor" = ($1::timestamptz AT TIME ZONE 'UTC')`,
      [scheduledFor.toISOString(), run.jobId, run.backupId],
    );
  }
}
