import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Kiln's own bookkeeping: maintenance mode. Kiln tables carry user ids without
 * foreign keys, because a restore replaces the "User" table underneath them.
 */
export class KilnMaintenance1764000000001 implements MigrationInterface {
  name = 'KilnMaintenance1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_maintenance" (
        "id" text NOT NULL,
        "enabled" boolean NOT NULL DEFAULT false,
        "reason" text,
        "since" timestamp(3),
        "enabledById" text,
        "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "kiln_maintenance_pkey" PRIMARY KEY ("id")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "kiln_maintenance"`);
  }
}
