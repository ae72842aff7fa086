import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Claims get a kind (a scheduled BACKUP fire, the DAILY retention run) so each
 * timer claims its own instants, and an attempt count so a fire whose backup
 * was interrupted by a dying instance is re-run once by another one.
 */
export class KilnScheduleRunKinds1764000000008 implements MigrationInterface {
  name = 'KilnScheduleRunKinds1764000000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_schedule_runs" ADD COLUMN IF NOT EXISTS "kind" text NOT NULL DEFAULT 'BACKUP'`);
    await q.query(`ALTER TABLE "kiln_schedule_runs" ADD COLUMN IF NOT EXISTS "attempts" integer NOT NULL DEFAULT 1`);
    // One statement: CockroachDB swaps a primary key only when drop and add go together.
    await q.query(`ALTER TABLE "kiln_schedule_runs"
      DROP CONSTRAINT "kiln_schedule_runs_pkey",
      ADD CONSTRAINT "kiln_schedule_runs_pkey" PRIMARY KEY ("kind", "scheduledFor")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "kiln_schedule_runs" WHERE "kind" <> 'BACKUP'`);
    await q.query(`ALTER TABLE "kiln_schedule_runs"
      DROP CONSTRAINT "kiln_schedule_runs_pkey",
      ADD CONSTRAINT "kiln_schedule_runs_pkey" PRIMARY KEY ("scheduledFor")`);
    await q.query(`ALTER TABLE "kiln_schedule_runs" DROP COLUMN IF EXISTS "attempts"`);
    await q.query(`ALTER TABLE "kiln_schedule_runs" DROP COLUMN IF EXISTS "kind"`);
  }
}
