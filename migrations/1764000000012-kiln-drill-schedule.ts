import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Scheduled restore drills: how often (quarterly unless an admin says otherwise) and, for CUSTOM, the cron. */
export class KilnDrillSchedule1764000000012 implements MigrationInterface {
  name = 'KilnDrillSchedule1764000000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_schedule_settings" ADD COLUMN IF NOT EXISTS "drillFrequency" text NOT NULL DEFAULT 'QUARTERLY'`);
    await q.query(`ALTER TABLE "kiln_schedule_settings" ADD COLUMN IF NOT EXISTS "drillCron" text`);
    // When the drills took their current settings: an upgrade starts the clock of "no drill for two periods" now.
    await q.query(`ALTER TABLE "kiln_schedule_settings" ADD COLUMN IF NOT EXISTS "drillSince" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_schedule_settings" DROP COLUMN IF EXISTS "drillSince"`);
    await q.query(`ALTER TABLE "kiln_schedule_settings" DROP COLUMN IF EXISTS "drillCron"`);
    await q.query(`ALTER TABLE "kiln_schedule_settings" DROP COLUMN IF EXISTS "drillFrequency"`);
  }
}
