import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AuditLogService } from '../audit/audit-log.service';
import type { BackupRecordStore } from '../backup/records/backup-record.store';
import { KILN_VERSION } from '../config/version';
import type { JobRunner } from '../jobs/job-runner';
import type { NotificationFailureStore } from '../notify/notification-failure.store';
import type { BackupHealthService } from '../system/backup-health.service';

export interface MetricSources {
  records: BackupRecordStore;
  jobs: JobRunner;
  audit: AuditLogService;
  health: BackupHealthService;
  notificationFailures: NotificationFailureStore;
  /** The clock (tests replace it). */
  now?: () => Date;
}

const DAY_MS = 24 * 3600 * 1000;
const seconds = (d: Date) => d.getTime() / 1000;

/**
 * GET /metrics in Prometheus' text format. Every figure but the process' own is read from the
 * database at scrape time, so every instance reports the same truth; concurrent scrapes share one
 * reading. Names follow Prometheus' conventions (_seconds, _bytes, _total; see the README).
 */
export class KilnMetrics {
  private readonly registry = new Registry();
  private reading?: Promise<string>;
  private retentionDeletedKnown: number | null = null;
  private readonly g: ReturnType<KilnMetrics['define']>;

  constructor(private readonly sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry });
    this.g = this.define();
    this.g.buildInfo.set({ version: KILN_VERSION }, 1);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; a scrape that arrives while one is being read gets that one's answer. */
  text(): Promise<string> {
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private define() {
    const r = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: r });
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: r });
    return {
      buildInfo: gauge('kiln_build_info', 'Always 1; the version in a label.', ['version']),
      lastSuccessTime: gauge('kiln_backup_last_success_timestamp_seconds', 'When the newest completed backup of each type finished (Unix time).', ['type']),
      lastSuccessAge: gauge('kiln_backup_last_success_age_seconds', 'Seconds since the newest completed backup of each type finished.', ['type']),
      lastFailureTime: gauge('kiln_backup_last_failure_timestamp_seconds', 'When the newest failed backup ended (Unix time); absent when none failed.'),
      lastDuration: gauge('kiln_backup_last_duration_seconds', 'How long the newest completed Kiln backup of the type took.', ['type']),
      lastSize: gauge('kiln_backup_last_size_bytes', 'The file size of the newest completed Kiln backup of the type.', ['type']),
      backups: gauge('kiln_backups', 'Backup records by type, status and location.', ['type', 'status', 'location']),
      failures24h: gauge('kiln_backup_failures_last_24h', 'Backups that failed in the last 24 hours.'),
      cloudFailures: gauge('kiln_backup_cloud_copy_failures', 'Backup records whose cloud copy failed (retention deleting them lowers it).'),
      cloudFailures24h: gauge('kiln_backup_cloud_copy_failures_last_24h', 'Backups whose cloud copy failed in the last 24 hours.'),
      jobsRunning: gauge('kiln_jobs_running', 'Jobs running now, by kind.', ['kind']),
      jobLastSuccess: gauge('kiln_job_last_success', '1 when the last finished job of the kind succeeded (a verify: found the backup good), 0 when not.', ['kind']),
      jobLastFinished: gauge('kiln_job_last_finished_timestamp_seconds', 'When the last job of the kind finished (Unix time).', ['kind']),
      jobLastSuccessTime: gauge('kiln_job_last_success_timestamp_seconds', 'When the last completed job of the kind finished (Unix time).', ['kind']),
      jobLastDuration: gauge('kiln_job_last_duration_seconds', 'How long the last finished job of the kind ran.', ['kind']),
      leaseHeld: gauge('kiln_job_lease_held_seconds', 'How long the job holding the job lease has held it, by its kind; absent when free.', ['kind']),
      nextRun: gauge('kiln_schedule_next_run_timestamp_seconds', 'The next scheduled backup (Unix time); absent while the schedule is disabled.'),
      retentionDeleted: gauge('kiln_retention_deleted_backups', 'Backups retention deleted, as the audit trail lists them (a restore that replaces the audit trail changes it).'),
      healthy: gauge('kiln_health_healthy', '1 when backup health has no problem, else 0 (the same on every instance).'),
      problem: gauge('kiln_health_problem', 'One series per current backup health problem, by its stable code (backupHealth.problemCodes).', ['code']),
      notificationFailures: counter('kiln_notification_delivery_failures_total', 'Notifications given up (retries exhausted, refused or abandoned), by channel.', ['channel']),
    };
  }

  private async read(): Promise<string> {
    const now = this.sources.now?.() ?? new Date();
    const [records, jobs, deleted, health, failures] = await Promise.all([
      this.sources.records.metricFacts(new Date(now.getTime() - DAY_MS)),
      this.sources.jobs.metricFacts(),
      this.sources.audit.retentionDeletions(),
      this.sources.health.health('shared'),
      this.sources.notificationFailures.countsByChannel(),
    ]);
    const g = this.g;
    // Series of types, kinds and problems that are gone must not linger from the last scrape.
    for (const metric of Object.values(g)) if (metric !== g.buildInfo) metric.reset();

    for (const { type, at } of records.lastSuccessByType) {
      g.lastSuccessTime.set({ type }, seconds(at));
      g.lastSuccessAge.set({ type }, Math.max(0, (now.getTime() - at.getTime()) / 1000));
    }
    if (records.lastFailure) g.lastFailureTime.set(seconds(records.lastFailure));
    for (const last of records.lastCompleted) {
      g.lastDuration.set({ type: last.type }, last.seconds);
      g.lastSize.set({ type: last.type }, last.bytes);
    }
    for (const { type, status, location, n } of records.counts) g.backups.set({ type, status, location }, n);
    g.failures24h.set(records.failedSince);
    g.cloudFailures.set(records.cloudFailures);
    g.cloudFailures24h.set(records.cloudFailuresSince);

    for (const { kind, n } of jobs.running) g.jobsRunning.set({ kind }, n);
    for (const last of jobs.last) {
      g.jobLastSuccess.set({ kind: last.kind }, last.lastSucceeded ? 1 : 0);
      g.jobLastFinished.set({ kind: last.kind }, seconds(last.lastFinishedAt));
      if (last.lastSuccessAt) g.jobLastSuccessTime.set({ kind: last.kind }, seconds(last.lastSuccessAt));
      if (last.lastSeconds !== null) g.jobLastDuration.set({ kind: last.kind }, last.lastSeconds);
    }
    for (const { kind, heldSeconds } of jobs.lease) g.leaseHeld.set({ kind }, heldSeconds);

    // Health read the schedule already: its next fire is this one.
    if (health.nextScheduledAt) g.nextRun.set(seconds(health.nextScheduledAt));
    // While a restore holds the audit table, the last figure read stands.
    if (deleted !== null) this.retentionDeletedKnown = deleted;
    if (this.retentionDeletedKnown !== null) g.retentionDeleted.set(this.retentionDeletedKnown);
    g.healthy.set(health.healthy ? 1 : 0);
    for (const code of health.problemCodes) g.problem.set({ code }, 1);
    for (const { channel, n } of failures) g.notificationFailures.inc({ channel }, n);
    return this.registry.metrics();
  }
}
