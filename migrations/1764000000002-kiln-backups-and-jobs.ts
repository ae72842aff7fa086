import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The jobs that write backups, and the lease that lets one exclusive job run
 * across instances. (Before KilnOwnSchema this migration also added Kiln's
 * columns to the app's `backup_records`; a database migrated then is converted
 * by KilnOwnSchema, a new one never gets them.)
 */
export class KilnBackupsAndJobs1764000000002 implements MigrationInterface {
  name = 'KilnBackupsAndJobs1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_jobs" (
        "id" text NOT NULL,
        "kind" text NOT NULL,
        "status" text NOT NULL DEFAULT 'QUEUED',
        "phase" text,
        "table" text,
        "percent" double precision NOT NULL DEFAULT 0,
        "rowsDone" bigint NOT NULL DEFAULT 0,
        "rowsTotal" bigint,
        "bytesDone" bigint NOT NULL DEFAULT 0,
        "etaSeconds" double precision,
        "message" text,
        "error" text,
        "backupId" text,
        "verification" jsonb,
        "input" jsonb,
        "requestedById" text,
        "instanceId" text,
        "cancelRequested" boolean NOT NULL DEFAULT false,
        "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "startedAt" timestamp(3),
        "finishedAt" timestamp(3),
        "heartbeatAt" timestamp(3),
        CONSTRAINT "kiln_jobs_pkey" PRIMARY KEY ("id")
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS "kiln_jobs_status_idx" ON "kiln_jobs" ("status", "createdAt")`);

    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_leases" (
        "name" text NOT NULL,
        "holder" text NOT NULL,
        "jobId" text,
        "expiresAt" timestamp(3) NOT NULL,
        CONSTRAINT "kiln_leases_pkey" PRIMARY KEY ("name")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "kiln_leases"`);
    await q.query(`DROP TABLE IF EXISTS "kiln_jobs"`);
  }
}
