import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The admin sessions valid when a restore began: while the restore holds User and StaffSession
 * locked (until it commits), they are checked here instead, so admins can follow and cancel it.
 */
export class KilnRestoreSessions1764000000011 implements MigrationInterface {
  name = 'KilnRestoreSessions1764000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_restore_sessions" (
        "jwtId" text NOT NULL,
        "jobId" text NOT NULL,
        "userId" text NOT NULL,
        "role" text NOT NULL,
        "expiresAt" timestamp(3) NOT NULL,
        PRIMARY KEY ("jobId", "jwtId")
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS "kiln_restore_sessions_jwtId_idx" ON "kiln_restore_sessions" ("jwtId")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "kiln_restore_sessions"`);
  }
}
