import type { DataSource } from 'typeorm';
import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { BackupLocation } from '../backup/backup.enums';
import { CompanySetting } from '../domain';
import { BadUserInputError, StorageUnavailableError } from '../errors/kiln-errors';
import { BackupSchedule } from './settings/backup-schedule';
import { SCHEDULE_ROW_ID, ScheduleSettingsStore } from './settings/schedule-settings.store';
import { canonicalZone, cronProblem, DRILL_CRON, FREQUENCY_CRON, nextFireTimes, previousFireTimes, shortestGapSeconds, zonedIso } from './cron-math';
import { BackupFrequency, DrillFrequency } from './schedule.enums';
import type { BackupScheduleInput, ScheduledRun } from './schedule.types';

const FALLBACK_ZONE = 'Africa/Lagos';
const MAX_RETENTION_DAYS = 3650;
const MAX_KEEP_AT_LEAST = 1000;
const MAX_RUNS_LISTED = 100;

/** The schedule as backup health reads it. */
export interface ScheduleHealthFacts {
  nextBackupAt: Date | null;
  /** What the stored schedule holds that nothing can run (e.g. a frequency neither side knows). */
  problems: string[];
  /** When a backup should last have succeeded (two fires back); null without a schedule in force. */
  successExpectedSince: { since: Date; frequency: string } | null;
  /** When a drill should last have succeeded; null while drills are off or newer than two periods. */
  drillExpectedSince: { since: Date; frequency: string } | null;
  drillsOn: boolean;
  /** Why the schedule makes this a local-only installation by choice (in force, location LOCAL), or null. */
  localOnlyBecause: string | null;
}

export interface ScheduleSettings {
  /** Only CLOUD and BOTH need it. */
  cloudConfigured: boolean;
  /** A cron firing more often than this is refused. */
  minIntervalSeconds: number;
  /** The clock (tests replace it). */
  now?: () => Date;
  /** The change journal, switched by `continuous`; absent, turning it on is refused. */
  journal?: { assertReady(): Promise<void>; enable(): Promise<unknown>; disable(): Promise<void> };
}

/** The backup schedule: read, validated updates, and its upcoming fire times. */
export class ScheduleService {
  private readonly updateListeners: Array<() => void> = [];
  private readonly store: ScheduleSettingsStore;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLogService,
    private readonly settings: ScheduleSettings,
  ) {
    this.store = new ScheduleSettingsStore(dataSource);
  }

  private now(): Date {
    return this.settings.now?.() ?? new Date();
  }

  /** The schedule with nextBackupAt; the defaults until an admin saves one. */
  async get(): Promise<BackupSchedule> {
    return this.withNext(await this.current());
  }

  /**
   * The schedule's settings as saved (the defaults until an admin saves one), without its upcoming
   * fires: for the checks that only read a setting, several times a minute (finding a quarterly
   * drill's next fire steps cron-parser day by day).
   */
  saved(): Promise<Omit<BackupSchedule, 'nextBackupAt' | 'nextDrillAt'>> {
    return this.current();
  }

  /** Changes whenever the app or Kiln saves the schedule: the scheduler re-reads it then. */
  version(): Promise<string | null> {
    return this.store.version();
  }

  /** What backup health needs of the schedule, from one read of it. */
  async healthFacts(): Promise<ScheduleHealthFacts> {
    const s = await this.get();
    const inForce = s.frequency !== BackupFrequency.DISABLED && s.frequency !== BackupFrequency.UNKNOWN;
    return {
      nextBackupAt: s.nextBackupAt,
      problems: s.warnings,
      // The fire two periods back, when the schedule was already in force then.
      successExpectedSince: inForce && s.cron ? this.twoPeriodsBack(s.cron, s.timezone, s.updatedAt, s.frequency) : null,
      // Likewise for drills, since their settings took effect (or the upgrade that brought them).
      drillExpectedSince: s.drillCron && s.drillSince ? this.twoPeriodsBack(s.drillCron, s.timezone, s.drillSince, s.drillFrequency) : null,
      drillsOn: s.drillCron !== null,
      localOnlyBecause: inForce && s.location === BackupLocation.LOCAL ? 'the backup schedule stores backups LOCAL' : null,
    };
  }

  private twoPeriodsBack<F extends string>(cron: string, zone: string, inForceSince: Date, frequency: F): { since: Date; frequency: F } | null {
    const [, twoBack] = previousFireTimes(cron, zone, this.now(), 2);
    return twoBack && twoBack >= inForceSince ? { since: twoBack, frequency } : null;
  }

  /** The next `count` fires after `after` (default now), in UTC and local wall time. */
  async nextRuns(count: number, after?: Date | null, draft?: BackupScheduleInput | null): Promise<ScheduledRun[]> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_RUNS_LISTED) {
      throw new BadUserInputError(`count must be between 1 and ${MAX_RUNS_LISTED}`, { field: 'count' });
    }
    const schedule = await this.draft(draft);
    if (!schedule.cron) return [];
    return nextFireTimes(schedule.cron, schedule.timezone, after ?? this.now(), count).map((at) => ({
      at,
      local: zonedIso(at, schedule.timezone),
    }));
  }

  /**
   * The schedule as it would be saved with `changes` (validated as an update is, nothing
   * stored), or the saved one without: previews show a form's effect before it is saved.
   */
  async draft(changes?: BackupScheduleInput | null): Promise<BackupSchedule> {
    return changes ? this.withNext(this.validated(await this.current(), changes)) : this.get();
  }

  /** Called after each saved update (this instance's scheduler re-arms at once; others poll). */
  onUpdated(listener: () => void): void {
    this.updateListeners.push(listener);
  }

  /** Validates and saves a partial update; every instance picks it up within SCHEDULE_POLL_SECONDS. */
  async update(input: BackupScheduleInput, actor: Identity, meta: RequestMeta): Promise<BackupSchedule> {
    const journal = this.settings.journal;
    let wasOn = false;
    if (input.continuous === true) {
      if (!journal) throw new BadUserInputError('The change journal is not available in this process', { field: 'continuous' });
      // Refused before anything is saved or made: a bad input, or a server that cannot run it (named).
      await this.draft(input);
      wasOn = (await this.get()).continuous;
      await journal.assertReady();
    }
    const saved = await this.save(input, actor, meta);
    if (input.continuous === true) {
      // Made once the switch is saved: an instance's check drops a slot or chain it finds while the switch is off.
      await journal!.enable().catch(async (err: unknown) => {
        if (!wasOn) await this.save({ continuous: false }, actor, meta).catch(() => undefined);
        throw err;
      });
    }
    if (input.continuous === false) await journal?.disable();
    for (const listener of this.updateListeners) listener();
    return saved;
  }

  private async save(input: BackupScheduleInput, actor: Identity, meta: RequestMeta): Promise<BackupSchedule> {
    const { next, entry } = await this.dataSource.transaction(async (tx) => {
      const before = await this.current(await this.store.read(tx, true));
      const next = this.withNext(this.validated(before, input));
      await this.store.save(next, tx);
      const entry = {
        actorUserId: actor.userId,
        action: 'SCHEDULE_UPDATED',
        entityName: 'BackupSchedule',
        entityId: SCHEDULE_ROW_ID,
        before: summary(before),
        after: summary(next),
        ipAddress: meta.ipAddress,
        userAgent: meta.userAgent,
      };
      await this.audit.record(entry, tx);
      return { next, entry };
    });
    this.audit.announce(entry);
    return next;
  }

  /** Records when a scheduled backup was started (and the next fire, for the app's screen). */
  async markBackupStarted(at: Date): Promise<void> {
    const schedule = await this.current();
    const next = schedule.cron ? (nextFireTimes(schedule.cron, schedule.timezone, at, 1)[0] ?? null) : null;
    await this.store.markBackupStarted(at, next);
  }

  /**
   * The stored settings completed: a zone where the app's row has none (Kiln's table has no
   * row yet), and the cron of a fixed frequency. A CUSTOM frequency without a cron runs nothing.
   */
  private async current(row?: BackupSchedule | null): Promise<BackupSchedule> {
    const stored = row === undefined ? await this.store.read() : row;
    if (!stored) return this.defaults();
    if (!stored.timezone) stored.timezone = (await this.defaults()).timezone;
    if (stored.frequency !== BackupFrequency.CUSTOM) stored.cron = FREQUENCY_CRON[stored.frequency];
    else if (!stored.cron) stored.warnings.push('frequency is custom but Kiln has no cron for it: no backup is scheduled');
    if (stored.drillFrequency !== DrillFrequency.CUSTOM) stored.drillCron = DRILL_CRON[stored.drillFrequency];
    else if (!stored.drillCron) stored.warnings.push('drillFrequency is custom but Kiln has no cron for it: no drill is scheduled');
    return stored;
  }

  private validated(before: BackupSchedule, input: BackupScheduleInput): BackupSchedule {
    const frequency = input.frequency ?? before.frequency;
    if (frequency === BackupFrequency.UNKNOWN) {
      throw new BadUserInputError(`frequency must be one of ${Object.values(BackupFrequency).filter((f) => f !== BackupFrequency.UNKNOWN).join(', ')}`, { field: 'frequency' });
    }

    let timezone = before.timezone;
    if (input.timezone != null) {
      const zone = canonicalZone(input.timezone);
      if (!zone) throw new BadUserInputError(`timezone ${JSON.stringify(input.timezone)} is not a known IANA zone (e.g. Africa/Lagos)`, { field: 'timezone' });
      timezone = zone;
    }

    let cron: string | null;
    const given = input.cron?.trim() ? input.cron.trim().split(/\s+/).join(' ') : null;
    if (frequency === BackupFrequency.CUSTOM) {
      cron = given ?? (before.frequency === BackupFrequency.CUSTOM ? before.cron : null);
      if (!cron) throw new BadUserInputError('cron is required when frequency is CUSTOM', { field: 'cron' });
      const problem = cronProblem(cron, timezone);
      if (problem) throw new BadUserInputError(problem, { field: 'cron' });
    } else {
      cron = FREQUENCY_CRON[frequency];
      // Sending back the effective cron of a fixed frequency is harmless; another one is a mistake.
      if (given && given !== cron) {
        throw new BadUserInputError(`cron applies only to frequency CUSTOM (${frequency} runs ${cron ?? 'never'})`, { field: 'cron' });
      }
    }
    if (cron) {
      const gap = shortestGapSeconds(cron, timezone, this.now());
      if (gap < this.settings.minIntervalSeconds) {
        throw new BadUserInputError(
          `cron ${JSON.stringify(cron)} fires every ${gap} s; the minimum interval is ${this.settings.minIntervalSeconds} s (SCHEDULE_MIN_INTERVAL_SECONDS)`,
          { field: 'cron' },
        );
      }
    }

    const drillFrequency = input.drillFrequency ?? before.drillFrequency;
    const drillCron = this.validDrillCron(drillFrequency, input.drillCron, before, timezone);
    const drillChanged = drillFrequency !== before.drillFrequency || drillCron !== before.drillCron || timezone !== before.timezone;

    const retentionDays = input.retentionDays ?? before.retentionDays;
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > MAX_RETENTION_DAYS) {
      throw new BadUserInputError(`retentionDays must be between 1 and ${MAX_RETENTION_DAYS}`, { field: 'retentionDays' });
    }
    const keepAtLeast = input.keepAtLeast ?? before.keepAtLeast;
    if (!Number.isInteger(keepAtLeast) || keepAtLeast < 1 || keepAtLeast > MAX_KEEP_AT_LEAST) {
      throw new BadUserInputError(`keepAtLeast must be a whole number between 1 and ${MAX_KEEP_AT_LEAST}`, { field: 'keepAtLeast' });
    }

    const location = input.location ?? before.location;
    if (location === BackupLocation.UNKNOWN) throw new BadUserInputError('location must be LOCAL, CLOUD or BOTH', { field: 'location' });
    if (input.location != null && location !== BackupLocation.LOCAL && !this.settings.cloudConfigured) {
      throw new StorageUnavailableError('Cloud storage is not configured: set CLOUDINARY_URL to schedule backups to the cloud', { field: 'location' });
    }

    return Object.assign(new BackupSchedule(), {
      id: SCHEDULE_ROW_ID,
      frequency,
      cron,
      timezone,
      location,
      retentionDays,
      keepAtLeast,
      drillFrequency,
      drillCron,
      nextDrillAt: null,
      drillSince: drillChanged || !before.drillSince ? this.now() : before.drillSince,
      includeAuditLogs: input.includeAuditLogs ?? before.includeAuditLogs,
      includeSessions: input.includeSessions ?? before.includeSessions,
      continuous: input.continuous ?? before.continuous,
      lastBackupAt: before.lastBackupAt,
      nextBackupAt: null,
      updatedAt: new Date(),
      warnings: [],
    });
  }

  /** The drills' cron: a CUSTOM one checked like the backups' (valid, not more often than the minimum interval). */
  private validDrillCron(frequency: DrillFrequency, given: string | null | undefined, before: BackupSchedule, timezone: string): string | null {
    const cron = given?.trim() ? given.trim().split(/\s+/).join(' ') : null;
    if (frequency !== DrillFrequency.CUSTOM) {
      if (cron && cron !== DRILL_CRON[frequency]) throw new BadUserInputError(`drillCron applies only to drillFrequency CUSTOM (${frequency} runs ${DRILL_CRON[frequency] ?? 'never'})`, { field: 'drillCron' });
      return DRILL_CRON[frequency];
    }
    const drillCron = cron ?? (before.drillFrequency === DrillFrequency.CUSTOM ? before.drillCron : null);
    if (!drillCron) throw new BadUserInputError('drillCron is required when drillFrequency is CUSTOM', { field: 'drillCron' });
    const problem = cronProblem(drillCron, timezone);
    if (problem) throw new BadUserInputError(problem.replace(/^cron/, 'drillCron'), { field: 'drillCron' });
    const gap = shortestGapSeconds(drillCron, timezone, this.now());
    if (gap < this.settings.minIntervalSeconds) {
      throw new BadUserInputError(`drillCron ${JSON.stringify(drillCron)} fires every ${gap} s; the minimum interval is ${this.settings.minIntervalSeconds} s (SCHEDULE_MIN_INTERVAL_SECONDS)`, { field: 'drillCron' });
    }
    return drillCron;
  }

  private withNext(schedule: BackupSchedule): BackupSchedule {
    const zone = schedule.timezone;
    schedule.nextBackupAt = schedule.cron && zone ? (nextFireTimes(schedule.cron, zone, this.now(), 1)[0] ?? null) : null;
    schedule.nextDrillAt = schedule.drillCron && zone ? (nextFireTimes(schedule.drillCron, zone, this.now(), 1)[0] ?? null) : null;
    return schedule;
  }

  private async defaults(): Promise<BackupSchedule> {
    const [company] = await this.dataSource.getRepository(CompanySetting).find({ take: 1 });
    const zone = (company?.timezone && canonicalZone(company.timezone)) || FALLBACK_ZONE;
    return Object.assign(new BackupSchedule(), {
      id: SCHEDULE_ROW_ID,
      frequency: BackupFrequency.DISABLED,
      cron: null,
      timezone: zone,
      location: BackupLocation.LOCAL,
      retentionDays: 30,
      keepAtLeast: 3,
      drillFrequency: DrillFrequency.QUARTERLY,
      drillCron: DRILL_CRON[DrillFrequency.QUARTERLY],
      nextDrillAt: null,
      drillSince: null,
      includeAuditLogs: false,
      includeSessions: false,
      continuous: false,
      lastBackupAt: null,
      nextBackupAt: null,
      updatedAt: this.now(),
      warnings: [],
    });
  }
}

function summary(s: BackupSchedule): Record<string, unknown> {
  const { frequency, cron, timezone, location, retentionDays, keepAtLeast, drillFrequency, drillCron, includeAuditLogs, includeSessions, continuous } = s;
  return { frequency, cron, timezone, location, retentionDays, keepAtLeast, drillFrequency, drillCron, includeAuditLogs, includeSessions, continuous };
}
