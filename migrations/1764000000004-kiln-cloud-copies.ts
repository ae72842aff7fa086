import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Where a backup's cloud copy lives and what Cloudinary confirmed about it. */
export class KilnCloudCopies1764000000004 implements MigrationInterface {
  name = 'KilnCloudCopies1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "backup_records" ADD COLUMN IF NOT EXISTS "cloudPublicId" text`);
    await q.query(`ALTER TABLE "backup_records" ADD COLUMN IF NOT EXISTS "cloudVersion" bigint`);
    await q.query(`ALTER TABLE "backup_records" ADD COLUMN IF NOT EXISTS "cloudBytes" bigint`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "backup_records" DROP COLUMN IF EXISTS "cloudBytes"`);
    await q.query(`ALTER TABLE "backup_records" DROP COLUMN IF EXISTS "cloudVersion"`);
    await q.query(`ALTER TABLE "backup_records" DROP COLUMN IF EXISTS "cloudPublicId"`);
  }
}
