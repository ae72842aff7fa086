import type { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_SCHEMA, kilnSchemaOf } from './app-schema';

/**
 * Notifications given up (retries exhausted, refused, dropped or abandoned at a stop), one row
 * each, so every instance's metrics count the same failures. Kiln's own table, in Kiln's schema.
 */
export class KilnNotificationFailures1764000000013 implements MigrationInterface {
  name = 'KilnNotificationFailures1764000000013';

  async up(q: QueryRunner): Promise<void> {
    const kiln = await kilnSchemaOf(q);
    // Unqualified names land in the first schema of the search_path: never let that be the app's.
    if (kiln === APP_SCHEMA) throw new Error(`Kiln's schema does not exist yet: Kiln creates it when it starts (npm start), before it migrates`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS "${kiln}"."kiln_notification_failures" (
        "id" text PRIMARY KEY,
        "channel" text NOT NULL,
        "eventType" text NOT NULL,
        "eventId" text NOT NULL,
        "error" text NOT NULL,
        "failedAt" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS "kiln_notification_failures_failedAt_idx" ON "${kiln}"."kiln_notification_failures" ("failedAt")`);
  }

  async down(q: QueryRunner): Promise<void> {
    const kiln = await kilnSchemaOf(q);
    if (kiln === APP_SCHEMA) return;
    await q.query(`DROP TABLE IF EXISTS "${kiln}"."kiln_notification_failures"`);
  }
}
