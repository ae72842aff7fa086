import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The claim table that makes each scheduled fire run on exactly one
 * instance: the first INSERT for a scheduled time wins (plain SQL, so it works
 * on CockroachDB too).
 */
export class KilnSchedule1764000000005 implements MigrationInterface {
  name = 'KilnSchedule1764000000005';

  async up(q: QueryRunner): Promise<void> {
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
  }
}
