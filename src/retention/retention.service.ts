import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { BackupRecord } from '../backup/records/backup-record';
import type { BackupService } from '../backup/backup.service';
import { NotFoundError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobStore } from '../jobs/job.store';
import type { JobOutcome, JobRun, JobRunner } from '../jobs/job-runner';
import type { ScheduleService } from '../schedule/schedule.service';
import type { BackupScheduleInput } from '../schedule/schedule.types';
import { retentionCutoff, selectExpired } from './retention-policy';
import type { RetentionPreview } from './retention-preview.type';
import type { JournalService } from '../journal/journal.service';

/** What started a run: the scheduler (after a scheduled backup, or its daily pass) or an admin. */
export type RetentionTrigger = 'SCHEDULE' | 'DAILY' | 'MANUAL';

/** Filenames named in a job message; the audit summary lists them all. */
const MAX_NAMES_IN_MESSAGE = 50;

interface RunResult {
  deleted: BackupRecord[];
  failed: Array<{ backup: BackupRecord; reason: string }>;
  /** Picked, but a job started reading it before its turn came. */
  skipped: BackupRecord[];
  /** Journal segments deleted. */
  segments: number;
}

/**
 * Applies the schedule's retention (retentionDays, keepAtLeast) as a RETENTION
 * job: each selected backup is deleted from every location through
 * BackupService.delete (so each gets its BACKUP_DELETED entry), then one
 * RETENTION_APPLIED entry sums the run up. RETENTION does not take the
 * backup/restore lease, only its own: one run at a time across all instances.
 */
export class RetentionService {
  constructor(
    private readonly jobStore: JobStore,
    private readonly runner: JobRunner,
    private readonly backups: BackupService,
    private readonly schedule: ScheduleService,
    private readonly audit: AuditLogService,
    /** The change journal, whose segments go with the backups they serve. */
    private readonly journal?: JournalService,
  ) {}

  /** What a run started now would delete, oldest first. */
  async preview(draft?: BackupScheduleInput | null): Promise<RetentionPreview> {
    const { retentionDays, keepAtLeast } = await this.schedule.draft(draft);
    const now = new Date();
    const cutoff = retentionCutoff(now, retentionDays);
    // Only what the selection can touch: backups past the cutoff (safety backups' cutoff is never
    // later), plus the newest keepAtLeast COMPLETED ones that protect them. The same answer as over
    // the whole table, without reading it.
    const records = await this.backups.records.retentionCandidates(cutoff, keepAtLeast);
    const backups = selectExpired(records, { retentionDays, keepAtLeast }, now, await this.backupsInUse());
    const going = new Set(backups.map((b) => b.id));
    const kept = this.journal ? (await this.backups.records.pointInTimeBases(now, 100_000)).filter((b) => !going.has(b.id)) : [];
    const segments = this.journal ? await this.journal.expiredSegments(kept) : [];
    return {
      cutoff,
      retentionDays,
      keepAtLeast,
      backups,
      totalBytes: bytesOf(backups),
      journalSegments: segments.length,
      journalBytes: segments.reduce((n, s) => n + s.bytes, 0),
      segments,
    };
  }

  /**
   * Starts a RETENTION job and returns it at once; CONFLICT (naming the running
   * job) while another RETENTION job runs on any instance.
   * `actor` is null when the scheduler starts it.
   */
  start(trigger: RetentionTrigger, actor: Identity | null, meta: RequestMeta | null = null): Promise<Job> {
    return this.runner.start({
      kind: JobKind.RETENTION,
      requestedById: actor?.userId ?? null,
      input: { trigger },
      run: (run) => this.apply(run, trigger, actor, meta),
    });
  }

  private async apply(run: JobRun, trigger: RetentionTrigger, actor: Identity | null, meta: RequestMeta | null): Promise<JobOutcome> {
    const { progress, signal, job, logger } = run;
    progress.update({ phase: 'select' });
    const plan = await this.preview();
    progress.update({ phase: 'delete', rowsTotal: plan.backups.length });
    const result: RunResult = { deleted: [], failed: [], skipped: [], segments: 0 };
    const why = { reason: 'retention', jobId: job.id };
    try {
      for (const backup of plan.backups) {
        signal.throwIfAborted();
        // A restore or verify may have started on it since the selection.
        if ((await this.backupsInUse()).has(backup.id)) {
          result.skipped.push(backup);
        } else {
          try {
            await this.backups.delete(backup.id, actor, meta, why);
            result.deleted.push(backup);
          } catch (err) {
            if (!(err instanceof NotFoundError)) {
              // e.g. a cloud outage: the record stays with its cloudError, the next run tries again.
              result.failed.push({ backup, reason: (err as Error).message });
              logger.warn({ backupId: backup.id, error: (err as Error).message }, 'retention could not delete a backup');
            }
          }
        }
        progress.update({ rowsDone: result.deleted.length + result.failed.length + result.skipped.length, bytesDone: bytesOf(result.deleted) });
      }
      // Segments only once the backups they served are gone (a skipped or failed one keeps its own: they are reselected next run).
      if (result.skipped.length === 0 && result.failed.length === 0) {
        for (const segment of plan.segments) {
          signal.throwIfAborted();
          await this.journal!.deleteSegment(segment);
          result.segments++;
        }
      }
    } catch (err) {
      // What was deleted before a cancel or a crash is still summed up.
      await this.summarize(job, trigger, plan, result, actor, meta, true).catch((e) => logger.warn({ err: e }, 'could not write the retention audit entry'));
      throw err;
    }
    await this.summarize(job, trigger, plan, result, actor, meta, false);
    return { message: describe(plan, result) };
  }

  /** One RETENTION_APPLIED entry per run that deleted or failed something, or that an admin asked for. */
  private async summarize(
    job: Job,
    trigger: RetentionTrigger,
    plan: RetentionPreview,
    result: RunResult,
    actor: Identity | null,
    meta: RequestMeta | null,
    interrupted: boolean,
  ): Promise<void> {
    if (trigger !== 'MANUAL' && result.deleted.length === 0 && result.failed.length === 0 && result.segments === 0) return;
    await this.audit.record({
      actorUserId: actor?.userId ?? null,
      action: 'RETENTION_APPLIED',
      entityName: 'Job',
      entityId: job.id,
      metadata: {
        trigger,
        retentionDays: plan.retentionDays,
        keepAtLeast: plan.keepAtLeast,
        cutoff: plan.cutoff.toISOString(),
        deleted: result.deleted.map((b) => ({ id: b.id, filename: b.filename, fileSize: b.fileSize })),
        bytesFreed: bytesOf(result.deleted),
        failed: result.failed.map(({ backup, reason }) => ({ id: backup.id, filename: backup.filename, reason })),
        skipped: result.skipped.map((b) => ({ id: b.id, filename: b.filename })),
        ...(result.segments > 0 ? { journalSegmentsDeleted: result.segments } : {}),
        ...(interrupted ? { interrupted: true } : {}),
      },
      ipAddress: meta?.ipAddress,
      userAgent: meta?.userAgent,
    });
  }

  /** Backups a queued or running job reads or writes: never deleted under it. */
  private backupsInUse(): Promise<Set<string>> {
    return this.jobStore.backupIdsInUse();
  }
}

function bytesOf(backups: BackupRecord[]): number {
  return backups.reduce((n, b) => n + b.fileSize, 0);
}

function names(backups: BackupRecord[], detail: (b: BackupRecord) => string = (b) => b.filename): string {
  const shown = backups.slice(0, MAX_NAMES_IN_MESSAGE).map(detail).join(', ');
  return backups.length > MAX_NAMES_IN_MESSAGE ? `${shown} and ${backups.length - MAX_NAMES_IN_MESSAGE} more (see the RETENTION_APPLIED audit entry)` : shown;
}

/** The job message: what went, what could not, and the policy applied. */
function describe(plan: RetentionPreview, { deleted, failed, skipped, segments }: RunResult): string {
  const parts = [deleted.length ? `Deleted ${deleted.length} backup(s), ${bytesOf(deleted)} bytes freed: ${names(deleted)}` : 'Deleted nothing'];
  if (segments) parts.push(`deleted ${segments} change journal segment(s) no remaining backup needs`);
  if (failed.length) {
    const reasons = new Map(failed.map((f) => [f.backup.id, f.reason]));
    parts.push(`could not delete ${failed.length}: ${names(failed.map((f) => f.backup), (b) => `${b.filename} (${reasons.get(b.id)})`)}`);
  }
  if (skipped.length) parts.push(`skipped ${skipped.length} a job started reading: ${names(skipped)}`);
  const policy = `retentionDays ${plan.retentionDays}, keepAtLeast ${plan.keepAtLeast}, cutoff ${plan.cutoff.toISOString()}`;
  return `${parts.join('; ')} (${policy})`;
}
