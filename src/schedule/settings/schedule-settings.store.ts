import type { DataSource, EntityManager } from 'typeorm';
import { BackupLocation } from '../../backup/backup.enums';
import { queryOne } from '../../db/sql';
import { appLocation, parseAppLocation } from '../../backup/records/app-conventions';
import { BackupFrequency, DrillFrequency } from '../schedule.enums';
import { AppScheduleRow } from './app-schedule-row.entity';
import { BackupSchedule } from './backup-schedule';
import { KilnScheduleSettings } from './kiln-schedule-settings.entity';

export const SCHEDULE_ROW_ID = 'default';

const FREQUENCIES = Object.values(BackupFrequency).filter((f) => f !== BackupFrequency.UNKNOWN);

/**
 * The one owner of `backup_schedule_settings` (the app's row, in the app's
 * lowercase values: the app's screen and Kiln edit the same schedule) and
 * `kiln_schedule_settings` (Kiln's additions).
 */
export class ScheduleSettingsStore {
  constructor(private readonly dataSource: DataSource) {}

  /** The stored schedule (cron not yet filled in for fixed frequencies); null until someone saved one. */
  async read(manager: EntityManager = this.dataSource.manager, lock = false): Promise<BackupSchedule | null> {
    const app = await manager.getRepository(AppScheduleRow).findOne({
      where: { id: SCHEDULE_ROW_ID },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!app) return null;
    const kiln = await manager.getRepository(KilnScheduleSettings).findOneBy({ id: SCHEDULE_ROW_ID });
    const warnings: string[] = [];
    const frequency = FREQUENCIES.find((f) => f.toLowerCase() === app.frequency.toLowerCase());
    if (!frequency) warnings.push(`frequency ${JSON.stringify(app.frequency)} in backup_schedule_settings is a value neither the app nor Kiln knows: no backup is scheduled`);
    const drillFrequency = Object.values(DrillFrequency).find((f) => f === kiln?.drillFrequency);
    if (kiln && !drillFrequency) warnings.push(`drillFrequency ${JSON.stringify(kiln.drillFrequency)} in kiln_schedule_settings is unknown: drills run quarterly`);
    const location = parseAppLocation(app.location);
    if (!location) warnings.push(`location ${JSON.stringify(app.location)} in backup_schedule_settings is a value neither the app nor Kiln knows`);
    return Object.assign(new BackupSchedule(), {
      id: SCHEDULE_ROW_ID,
      frequency: frequency ?? BackupFrequency.UNKNOWN,
      cron: kiln?.cron ?? null,
      timezone: kiln?.timezone ?? null,
      location: location ?? BackupLocation.UNKNOWN,
      retentionDays: app.retentionDays,
      keepAtLeast: kiln?.keepAtLeast ?? 3,
      drillFrequency: drillFrequency ?? DrillFrequency.QUARTERLY,
      drillCron: kiln?.drillCron ?? null,
      drillSince: kiln?.drillSince ?? null,
      includeAuditLogs: app.includeAuditLogs,
      includeSessions: app.includeSessions,
      continuous: kiln?.continuous ?? false,
      lastBackupAt: app.lastBackupAt,
      nextBackupAt: app.nextBackupAt,
      updatedAt: kiln && kiln.updatedAt > app.updatedAt ? kiln.updatedAt : app.updatedAt,
      warnings,
    });
  }

  /** A fingerprint of both rows: it changes whenever either side saves the schedule. */
  async version(): Promise<string | null> {
    // The company's zone too: a schedule with no zone of its own (saved by the app, or none saved) fires in it.
    const row = await queryOne(
      this.dataSource,
      `SELECT (SELECT row_to_json(s) FROM (
                SELECT a."frequency", a."location", a."updatedAt", k."cron", k."timezone", k."drillFrequency", k."drillCron", k."continuous", k."updatedAt" AS "kilnUpdatedAt"
                  FROM backup_schedule_settings a LEFT JOIN kiln_schedule_settings k ON k."id" = a."id" WHERE a."id" = $1) s) AS "schedule",
              (SELECT c."timezone" FROM "CompanySetting" c LIMIT 1) AS "companyTimezone"`,
      [SCHEDULE_ROW_ID],
    );
    return JSON.stringify(row);
  }

  /** Saves both rows: the app's columns in the app's values, the rest in Kiln's table. */
  async save(schedule: BackupSchedule, manager: EntityManager): Promise<void> {
    await manager.getRepository(AppScheduleRow).upsert(
      {
        id: SCHEDULE_ROW_ID,
        frequency: schedule.frequency.toLowerCase(),
        location: appLocation(schedule.location),
        retentionDays: schedule.retentionDays,
        includeAuditLogs: schedule.includeAuditLogs,
        includeSessions: schedule.includeSessions,
        lastBackupAt: schedule.lastBackupAt,
        nextBackupAt: schedule.nextBackupAt,
        updatedAt: schedule.updatedAt,
      },
      ['id'],
    );
    await manager.getRepository(KilnScheduleSettings).upsert(
      {
        id: SCHEDULE_ROW_ID,
        cron: schedule.frequency === BackupFrequency.CUSTOM ? schedule.cron : null,
        timezone: schedule.timezone,
        keepAtLeast: schedule.keepAtLeast,
        drillFrequency: schedule.drillFrequency,
        drillCron: schedule.drillFrequency === DrillFrequency.CUSTOM ? schedule.drillCron : null,
        drillSince: schedule.drillSince ?? schedule.updatedAt,
        continuous: schedule.continuous,
        updatedAt: schedule.updatedAt,
      },
      ['id'],
    );
  }

  /** A scheduled backup started: the app's screen shows when, and when the next one is due. */
  async markBackupStarted(at: Date, next: Date | null): Promise<void> {
    await this.dataSource.getRepository(AppScheduleRow).update({ id: SCHEDULE_ROW_ID }, { lastBackupAt: at, nextBackupAt: next });
  }
}
