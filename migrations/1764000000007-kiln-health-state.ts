import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The last known backup health, shared by all instances: a health webhook is
 * sent by the one instance whose compare-and-set UPDATE changes it, so N
 * instances send each transition once.
 */
export class KilnHealthState1764000000007 implements MigrationInterface {
  name = 'KilnHealthState1764000000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_health_state" (
        "id" text NOT NULL,
        "healthy" boolean NOT NULL,
        "problems" jsonb NOT NULL DEFAULT '[]',
        "changedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "changedBy" text,
        "evaluatedAt" timestamptz(3) NOT NULL,
        CONSTRAINT "kiln_health_state_pkey" PRIMARY KEY ("id")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "kiln_health_state"`);
  }
}
