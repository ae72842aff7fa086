import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The change journal (point-in-time recovery): its chains (one per replication slot's life, so a
 * lost slot shows as a gap) and the stored segments of each, with the LSNs and commit times they
 * cover (and, for BOTH, the key of each one's off-site copy), and the schedule's switch for it. LSNs are bigint: they compare as numbers on every server.
 */
export class KilnJournal1764000000016 implements MigrationInterface {
  name = 'KilnJournal1764000000016';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_journal_chains" (
        "id" text PRIMARY KEY,
        "slot" text NOT NULL,
        "publication" text NOT NULL,
        "startLsn" bigint NOT NULL,
        "startedAt" timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "coveredUntil" timestamptz,
        "endedAt" timestamptz,
        "endReason" text
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_journal_segments" (
        "chain" text NOT NULL REFERENCES "kiln_journal_chains" ("id") ON DELETE CASCADE,
        "sequence" integer NOT NULL,
        "startLsn" bigint NOT NULL,
        "endLsn" bigint NOT NULL,
        "firstCommitAt" timestamptz,
        "lastCommitAt" timestamptz,
        "minCommitAt" timestamptz,
        "maxXid" bigint,
        "transactions" integer NOT NULL,
        "changes" integer NOT NULL,
        "checksum" text NOT NULL,
        "storageKey" text NOT NULL,
        "offsiteKey" text,
        "bytes" bigint NOT NULL,
        "storedAt" timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY ("chain", "sequence")
      )`);
    // When a backup's snapshot was taken: the earliest instant it can be the base of.
    await q.query(`ALTER TABLE "kiln_backup_details" ADD COLUMN IF NOT EXISTS "snapshotAt" timestamptz`);
    // The schedule's switch: whether the journal should run (every instance follows it).
    await q.query(`ALTER TABLE "kiln_schedule_settings" ADD COLUMN IF NOT EXISTS "continuous" boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "kiln_schedule_settings" DROP COLUMN IF EXISTS "continuous"`);
    await q.query(`ALTER TABLE "kiln_backup_details" DROP COLUMN IF EXISTS "snapshotAt"`);
    await q.query(`DROP TABLE IF EXISTS "kiln_journal_segments"`);
    await q.query(`DROP TABLE IF EXISTS "kiln_journal_chains"`);
  }
}
