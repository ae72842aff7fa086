import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Jobs record the stable code of their failure (BACKUP_CORRUPT, …) next to the message. */
export class KilnJobErrorCode1764000000003 implements MigrationInterface {
  name = 'KilnJobErrorCode1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_jobs" ADD COLUMN IF NOT EXISTS "errorCode" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_jobs" DROP COLUMN IF EXISTS "errorCode"`);
  }
}
