import type { MigrationInterface, QueryRunner } from 'typeorm';

const OWNER_KEY = 'backup_schedule_settings.keepAtLeast_owner';

/**
 * `keepAtLeast` on the backup schedule: retention never deletes the newest
 * that many completed backups. The table may be the Prisma app's, so the
 * column is added only where missing and dropped on revert only if Kiln added it.
 */
export class KilnRetention1764000000006 implements MigrationInterface {
  name = 'KilnRetention1764000000006';

  async up(q: QueryRunner): Promise<void> {
    const [{ exists }] = await q.query(
      `SELECT EXISTS (SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'backup_schedule_settings' AND column_name = 'keepAtLeast') AS "exists"`,
    );
    await q.query('CREATE TABLE IF NOT EXISTS kiln_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    await q.query(`ALTER TABLE "backup_schedule_settings" ADD COLUMN IF NOT EXISTS "keepAtLeast" integer NOT NULL DEFAULT 3`);
    if (!exists) {
      await q.query(`INSERT INTO kiln_meta (key, value) VALUES ($1, 'kiln') ON CONFLICT (key) DO NOTHING`, [OWNER_KEY]);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    const owned = await q.query(`SELECT 1 FROM kiln_meta WHERE key = $1 AND value = 'kiln'`, [OWNER_KEY]);
    if (owned.length > 0) {
      await q.query(`ALTER TABLE "backup_schedule_settings" DROP COLUMN IF EXISTS "keepAtLeast"`);
      await q.query(`DELETE FROM kiln_meta WHERE key = $1`, [OWNER_KEY]);
    }
  }
}
