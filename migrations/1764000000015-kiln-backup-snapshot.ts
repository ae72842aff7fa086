import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The snapshot a backup's rows were read in (pg_current_snapshot()): which transactions the backup
 * holds, so a change journal can replay exactly the others on top of it. Null for older backups.
 */
export class KilnBackupSnapshot1764000000015 implements MigrationInterface {
  name = 'KilnBackupSnapshot1764000000015';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_backup_details" ADD COLUMN IF NOT EXISTS "snapshot" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_backup_details" DROP COLUMN IF EXISTS "snapshot"`);
  }
}
