import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Login rate limits shared by every instance (rate-limiter-flexible's PostgreSQL table, made here). */
export class KilnRateLimits1764000000010 implements MigrationInterface {
  name = 'KilnRateLimits1764000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_rate_limits" (
        "key" varchar(255) PRIMARY KEY,
        "points" integer NOT NULL DEFAULT 0,
        "expire" bigint
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "kiln_rate_limits"`);
  }
}
