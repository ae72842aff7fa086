import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The backup schedule (the lending app's `backup_schedule_settings`, extended)
 * and the claim table that makes each scheduled fire run on exactly one
 * instance: the first INSERT for a scheduled time wins (plain SQL, so it works
 * on CockroachDB too).
 */
export class KilnSchedule1764000000005 implements MigrationInterface {
  name = 'KilnSchedule1764000000005';

  async up(q: QueryRunner): Promise<void> {
    const existed = (await q.query(`SELECT to_regclass('"backup_schedule_settings"') IS NOT NULL AS "exists"`))[0].exists;
    await q.query(`CREATE TABLE IF NOT EXISTS "backup_schedule_settings" ("id" text NOT NULL, CONSTRAINT "backup_schedule_settings_pkey" PRIMARY KEY ("id"))`);
    await q.query('CREATE TABLE IF NOT EXISTS kiln_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    if (!existed) {
      await q.query(`INSERT INTO kiln_meta (key, value) VALUES ('backup_schedule_settings_owner', 'kiln') ON CONFLICT (key) DO NOTHING`);
    }
    const columns: Array<[string, string]> = [
      ['frequency', `text NOT NULL DEFAULT 'DISABLED'`],
      ['cron', 'text'],
      ['timezone', 'text'],
      ['location', `text NOT NULL DEFAULT 'LOCAL'`],
      ['retentionDays', 'integer NOT NULL DEFAULT 30'],
      ['includeAuditLogs', 'boolean NOT NULL DEFAULT false'],
      ['includeSessions', 'boolean NOT NULL DEFAULT false'],
      ['lastBackupAt', 'timestamp(3)'],
      ['updatedAt', 'timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP'],
    ];
    for (const [name, type] of columns) {
      await q.query(`ALTER TABLE "backup_schedule_settings" ADD COLUMN IF NOT EXISTS "${name}" ${type}`);
    }

    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_schedule_runs" (
        "scheduledFor" timestamp(3) NOT NULL,
        "claimedBy" text NOT NULL,
        "claimedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "jobId" text,
        "backupId" text,
        CONSTRAINT "kiln_schedule_runs_pkey" PRIMARY KEY ("scheduledFor")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "kiln_schedule_runs"`);
    // backup_schedule_settings may predate Kiln (the Prisma app maps it too): dropped only if Kiln made it.
    const owned = await q.query(`SELECT 1 FROM kiln_meta WHERE key = 'backup_schedule_settings_owner' AND value = 'kiln'`);
    if (owned.length > 0) {
      await q.query(`DROP TABLE IF EXISTS "backup_schedule_settings"`);
      await q.query(`DELETE FROM kiln_meta WHERE key = 'backup_schedule_settings_owner'`);
    }
  }
}
