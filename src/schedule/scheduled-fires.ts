import type { BackupService, CreateBackupOptions } from '../backup/backup.service';
import { BackupType } from '../backup/backup.enums';
import { ConflictError } from '../errors/kiln-errors';
import type { JobRunner } from '../jobs/job-runner';
import type { Job } from '../jobs/job.entity';
import { JobKind, JobStatus } from '../jobs/job.enums';
import type { Logger } from '../logging/logger';
import { previousFireTime } from './cron-math';
import type { ScheduleClaims } from './schedule-claims';
import type { ScheduleRunKind } from './schedule-run.entity';
import type { ScheduleService } from './schedule.service';

/** Retention as the scheduler starts it: after each scheduled backup, and daily. */
export interface RetentionStarter {
  start(trigger: 'SCHEDULE' | 'DAILY', actor: null): Promise<{ id: string }>;
}

/** The scheduled restore drill as the scheduler starts it. */
export interface DrillStarter {
  scheduledDrill(): Promise<{ id: string; backupId: string | null }>;
}

/** How a fire came: its timer, a catch-up of a missed one, or a takeover of a dead instance's claim. */
export type FireOrigin = 'timer' | 'catch-up' | 'takeover';

/**
 * One instance's scheduled fires: each claims its instant (the INSERT decides which instance runs
 * it), then starts its job and records it on the claim. A backup is queued if another job holds
 * the lease (or joins the scheduled backup already queued): the fire is done once its job exists,
 * whatever it waits for. Nothing is queued in maintenance mode.
 */
export class ScheduledFires {
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly schedules: ScheduleService,
    private readonly backups: BackupService,
    private readonly jobs: JobRunner,
    private readonly claims: ScheduleClaims,
    private readonly retention: RetentionStarter | undefined,
    private readonly drills: DrillStarter | undefined,
    private readonly logger: Logger,
  ) {}

  /** Runs one fire of `kind` in the background (stop() waits for it). */
  start(kind: ScheduleRunKind, fireDate: Date, how: FireOrigin): void {
    const fire = this.fire(kind, fireDate, how);
    this.inFlight.add(fire);
    void fire.finally(() => this.inFlight.delete(fire));
  }

  /** Starts nothing more; waits for the fires being started. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
  }

  /** One fire of `kind`; `takeover` means the claim is already ours. Never throws. */
  async fire(kind: ScheduleRunKind, fireDate: Date, how: FireOrigin): Promise<void> {
    // Timers fire a few ms late: the claim is keyed by the whole second. A taken-over claim keeps its key.
    const scheduledFor = how === 'takeover' ? fireDate : new Date(Math.floor(fireDate.getTime() / 1000) * 1000);
    try {
      // A stopping gateway starts nothing new; an unclaimed fire is left to the other instances.
      if (this.stopped) return;
      if (kind !== 'RETENTION' && how === 'timer' && !(await this.stillScheduled(kind, scheduledFor))) return;
      if (how !== 'takeover' && !(await this.claims.claim(kind, scheduledFor))) return;
      if (kind === 'RETENTION') await this.startRetention(scheduledFor, 'DAILY');
      else if (kind === 'DRILL') await this.startDrill(scheduledFor);
      else await this.startBackup(scheduledFor, how);
    } catch (err) {
      this.logger.error({ event: 'schedule_fire_failed', kind, scheduledFor, err }, 'a scheduled fire failed');
    }
  }

  /** Starts the scheduled backup, or queues it behind the job holding the lease. */
  private async startBackup(scheduledFor: Date, how: FireOrigin): Promise<void> {
    const schedule = await this.schedules.saved();
    const options: CreateBackupOptions = {
      location: schedule.location,
      includeAuditLogs: schedule.includeAuditLogs,
      includeSessions: schedule.includeSessions,
    };
    let job: Job;
    try {
      // Behind a long job, fires join the scheduled backup already waiting instead of piling up.
      job = await this.backups.create(options, BackupType.SCHEDULED, null, undefined, { queue: true, coalesce: true });
    } catch (err) {
      // Nobody is there to see an error: a FAILED job says it (backup.failed), and on the claim it keeps the fire from re-running.
      const input = { type: BackupType.SCHEDULED, location: options.location, includeAuditLogs: options.includeAuditLogs, includeSessions: options.includeSessions };
      const failed = await this.jobs.failUnstarted({ kind: JobKind.BACKUP, requestedById: null, input }, err, `Scheduled backup for ${scheduledFor.toISOString()} did not run`);
      await this.claims.recordRun('BACKUP', scheduledFor, { jobId: failed.id, backupId: null });
      this.logger.warn({ event: 'scheduled_backup_not_started', scheduledFor, how, jobId: failed.id, error: failed.error }, 'scheduled backup did not start');
      return;
    }
    if (!(await this.claims.recordRun('BACKUP', scheduledFor, { jobId: job.id, backupId: job.backupId ?? null }))) {
      this.logger.warn({ event: 'schedule_claim_lost', scheduledFor, jobId: job.id }, 'this fire was taken over while its backup started');
    }
    await this.schedules.markBackupStarted(new Date());
    // lagMs: how late the backup started (or was queued) against its scheduled time (fire-time accuracy).
    this.logger.info(
      { event: 'scheduled_backup_started', scheduledFor, how, jobId: job.id, backupId: job.backupId, status: job.status, lagMs: Date.now() - scheduledFor.getTime() },
      job.status === JobStatus.QUEUED ? 'scheduled backup queued behind the running job' : 'scheduled backup started',
    );
    // Not tracked: stop() must not wait for the backup itself (shutdown interrupts it).
    void this.pruneAfter(job.id, scheduledFor);
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

  /**
   * Whether `at` is a fire of the backup or drill schedule as saved now: an instance that has not yet
   * heard of a change (turned off, another cron; it re-reads the schedule at its next poll) still has
   * the old timer, whose fire runs nothing. (Catch-up fires come from the schedule as saved.)
   */
  private async stillScheduled(kind: 'BACKUP' | 'DRILL', at: Date): Promise<boolean> {
    const { cron, drillCron, timezone } = await this.schedules.saved();
    const expression = kind === 'BACKUP' ? cron : drillCron;
    return expression !== null && previousFireTime(expression, timezone, at)?.getTime() === at.getTime();
  }

  /** Starts this fire's drill and records its job on the claim (its result stays with the job). */
  private async startDrill(scheduledFor: Date): Promise<void> {
    if (!this.drills) return;
    const job = await this.drills.scheduledDrill();
    await this.claims.recordRun('DRILL', scheduledFor, { jobId: job.id, backupId: job.backupId });
    this.logger.info({ event: 'scheduled_drill_started', scheduledFor, jobId: job.id, backupId: job.backupId }, 'scheduled restore drill started');
  }

  private async startRetention(scheduledFor: Date, trigger: 'SCHEDULE' | 'DAILY'): Promise<void> {
    if (!this.retention) return;
    try {
      const job = await this.retention.start(trigger, null);
      if (trigger === 'DAILY') await this.claims.recordRun('RETENTION', scheduledFor, { jobId: job.id, backupId: null });
    } catch (err) {
      // A retention run already going on covers this one.
      const level = err instanceof ConflictError ? 'info' : 'error';
      this.logger[level]({ event: 'retention_not_started', trigger, err }, 'retention did not start');
    }
  }
}
