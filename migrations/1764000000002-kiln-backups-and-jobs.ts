import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Backup records (the lending app's `backup_records`, extended), the jobs that
 * write them, and the lease that lets one exclusive job run across instances.
 * Works on a database where the Prisma app already made `backup_records`:
 * missing columns are added, existing ones kept.
 */
export class KilnBackupsAndJobs1764000000002 implements MigrationInterface {
  name = 'KilnBackupsAndJobs1764000000002';

  async up(q: QueryRunner): Promise<void> {
    const existed = (await q.query(`SELECT to_regclass('"backup_records"') IS NOT NULL AS "exists"`))[0].exists;
    await q.query(`CREATE TABLE IF NOT EXISTS "backup_records" ("id" text NOT NULL, CONSTRAINT "backup_records_pkey" PRIMARY KEY ("id"))`);
    await q.query('CREATE TABLE IF NOT EXISTS kiln_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    if (!existed) {
      await q.query(`INSERT INTO kiln_meta (key, value) VALUES ('backup_records_owner', 'kiln') ON CONFLICT (key) DO NOTHING`);
    }
    const columns: Array<[string, string]> = [
      ['filename', `text NOT NULL DEFAULT ''`],
      ['type', `text NOT NULL DEFAULT 'MANUAL'`],
      ['status', `text NOT NULL DEFAULT 'IN_PROGRESS'`],
      ['location', `text NOT NULL DEFAULT 'LOCAL'`],
      ['fileSize', 'bigint NOT NULL DEFAULT 0'],
      ['compressed', 'boolean NOT NULL DEFAULT false'],
      ['encrypted', 'boolean NOT NULL DEFAULT false'],
      ['checksum', 'text'],
      ['recordCounts', 'jsonb'],
      ['includeAuditLogs', 'boolean NOT NULL DEFAULT false'],
      ['includeSessions', 'boolean NOT NULL DEFAULT false'],
      ['storedLocally', 'boolean NOT NULL DEFAULT false'],
      ['storedInCloud', 'boolean NOT NULL DEFAULT false'],
      ['cloudError', 'text'],
      ['error', 'text'],
      ['createdById', 'text'],
      ['createdAt', 'timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP'],
      ['completedAt', 'timestamp(3)'],
      ['lastVerifiedAt', 'timestamp(3)'],
      ['schemaVersion', 'text'],
      ['formatVersion', 'integer'],
      ['localPath', 'text'],
      ['jobId', 'text'],
    ];
    for (const [name, type] of columns) {
      await q.query(`ALTER TABLE "backup_records" ADD COLUMN IF NOT EXISTS "${name}" ${type}`);
    }
    await q.query(`CREATE INDEX IF NOT EXISTS "backup_records_createdAt_idx" ON "backup_records" ("createdAt")`);
    await q.query(`CREATE INDEX IF NOT EXISTS "backup_records_status_idx" ON "backup_records" ("status")`);

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
    // backup_records may predate Kiln (the Prisma app maps it too): dropped only if Kiln made it.
    const owned = await q.query(`SELECT 1 FROM kiln_meta WHERE key = 'backup_records_owner' AND value = 'kiln'`);
    if (owned.length > 0) {
      await q.query(`DROP TABLE IF EXISTS "backup_records"`);
      await q.query(`DELETE FROM kiln_meta WHERE key = 'backup_records_owner'`);
    }
  }
}
