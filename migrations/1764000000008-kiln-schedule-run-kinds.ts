import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Claims get a kind (a scheduled BACKUP fire, the DAILY retention run) so each
 * timer claims its own instants, and an attempt count so a fire whose backup
 * was interrupted by a dying instance is re-run once by another one.
 */
export class KilnScheduleRunKinds1764000000008 implements MigrationInterface {
  name = 'KilnScheduleRunKinds1764000000008';
  // CockroachDB refuses a primary-key change after other schema changes to the table in one
  // transaction; each statement here is idempotent or atomic on its own.
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_schedule_runs" ADD COLUMN IF NOT EXISTS "kind" text NOT NULL DEFAULT 'BACKUP'`);
    await q.query(`ALTER TABLE "kiln_schedule_runs" ADD COLUMN IF NOT EXISTS "attempts" integer NOT NULL DEFAULT 1`);
    // Fires from before this migration are history: none of them is re-run after an upgrade.
    await q.query(`UPDATE "kiln_schedule_runs" SET "attempts" = 2`);
    // One statement: CockroachDB swaps a primary key only when drop and add go together.
    const [pk] = (await q.query(
      `SELECT count(*)::int AS columns FROM information_schema.key_column_usage WHERE constraint_name = 'kiln_schedule_runs_pkey' AND table_name = 'kiln_schedule_runs'`,
    )) as Array<{ columns: number }>;
    if (pk.columns === 1) {
      await q.query(`ALTER TABLE "kiln_schedule_runs"
        DROP CONSTRAINT "kiln_schedule_runs_pkey",
        ADD CONSTRAINT "kiln_schedule_runs_pkey" PRIMARY KEY ("kind", "scheduledFor")`);
    }
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
