import type { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_SCHEMA, kilnSchemaOf } from './app-schema';

/**
 * Kiln keeps to a schema of its own and leaves the app's tables as Prisma made them.
 *
 * - Kiln's tables that an earlier Kiln kept in `public` move to Kiln's schema.
 * - What Kiln knows beyond the app's columns lives in kiln_backup_details and
 *   kiln_schedule_settings, keyed by the app's row id.
 * - Where an earlier Kiln added columns to `backup_records` or
 *   `backup_schedule_settings` (or created them with its own shape), their values
 *   move into those tables, the app's values are written in the app's
 *   conventions, and the tables get back exactly Prisma's columns, types,
 *   defaults and indexes. Nothing is lost: every value removed from `public`
 *   is in Kiln's schema first.
 *
 * The shapes below are frozen copies (of the app's reference DDL), not imports.
 */

const KILN_TABLES = ['kiln_meta', 'kiln_maintenance', 'kiln_jobs', 'kiln_leases', 'kiln_schedule_runs', 'kiln_health_state'];

interface ColumnSpec {
  name: string;
  type: string;
  notNull: boolean;
  default?: string;
}

const BACKUP_RECORDS: ColumnSpec[] = [
  { name: 'id', type: 'text', notNull: true },
  { name: 'filename', type: 'text', notNull: true },
  { name: 'fileSize', type: 'integer', notNull: true },
  { name: 'location', type: 'text', notNull: true },
  { name: 'cloudinaryUrl', type: 'text', notNull: false },
  { name: 'localPath', type: 'text', notNull: false },
  { name: 'type', type: 'text', notNull: true },
  { name: 'status', type: 'text', notNull: true },
  { name: 'recordCounts', type: 'jsonb', notNull: false },
  { name: 'error', type: 'text', notNull: false },
  { name: 'createdAt', type: 'timestamp(3) without time zone', notNull: true, default: 'CURRENT_TIMESTAMP' },
  { name: 'createdBy', type: 'text', notNull: false },
];
const BACKUP_RECORDS_INDEXES: Record<string, string> = {
  backup_records_pkey: '',
  backup_records_createdAt_idx: 'CREATE INDEX "backup_records_createdAt_idx" ON public."backup_records"("createdAt")',
  backup_records_status_idx: 'CREATE INDEX "backup_records_status_idx" ON public."backup_records"("status")',
  backup_records_type_idx: 'CREATE INDEX "backup_records_type_idx" ON public."backup_records"("type")',
};

const SCHEDULE_SETTINGS: ColumnSpec[] = [
  { name: 'id', type: 'text', notNull: true, default: `'default'::text` },
  { name: 'frequency', type: 'text', notNull: true, default: `'disabled'::text` },
  { name: 'location', type: 'text', notNull: true, default: `'cloud'::text` },
  { name: 'retentionDays', type: 'integer', notNull: true, default: '30' },
  { name: 'includeAuditLogs', type: 'boolean', notNull: true, default: 'false' },
  { name: 'includeSessions', type: 'boolean', notNull: true, default: 'false' },
  { name: 'lastBackupAt', type: 'timestamp(3) without time zone', notNull: false },
  { name: 'nextBackupAt', type: 'timestamp(3) without time zone', notNull: false },
  { name: 'updatedAt', type: 'timestamp(3) without time zone', notNull: true },
];
const SCHEDULE_SETTINGS_INDEXES: Record<string, string> = { backup_schedule_settings_pkey: '' };

/** Kiln's table name → the app's data key (recordCounts are keyed by data keys in the app's rows). */
const DATA_KEYS: Record<string, string> = {
  CompanySetting: 'companySettings',
  LoanType: 'loanTypes',
  DocumentType: 'documentTypes',
  User: 'users',
  Union: 'unions',
  UnionMember: 'unionMembers',
  Loan: 'loans',
  RepaymentScheduleItem: 'repaymentScheduleItems',
  Repayment: 'repayments',
  RepaymentAllocation: 'repaymentAllocations',
  UnionMemberDocument: 'unionMemberDocuments',
  LoanDocument: 'loanDocuments',
  AuditLog: 'auditLogs',
  StaffSession: 'staffSessions',
  UnionAssignmentHistory: 'unionAssignmentHistory',
  UnionMemberReassignment: 'unionMemberReassignments',
  UserLoginHistory: 'userLoginHistory',
  UserNote: 'userNotes',
  ReportSession: 'reportSessions',
};

const INT4_MAX = 2147483647;

export class KilnOwnSchema1764000000009 implements MigrationInterface {
  name = 'KilnOwnSchema1764000000009';

  async up(q: QueryRunner): Promise<void> {
    const kiln = await kilnSchemaOf(q);
    if (kiln === APP_SCHEMA) {
      throw new Error(`Kiln's schema does not exist yet: Kiln creates it when it starts (npm start), before it migrates`);
    }
    for (const table of KILN_TABLES) await moveIntoKilnSchema(q, table, kiln);

    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_backup_details" (
        "id" text NOT NULL,
        "origin" text NOT NULL DEFAULT 'KILN',
        "kind" text,
        "fileSize" bigint,
        "compressed" boolean NOT NULL DEFAULT false,
        "encrypted" boolean NOT NULL DEFAULT false,
        "checksum" text,
        "fileChecksum" text,
        "includeAuditLogs" boolean NOT NULL DEFAULT false,
        "includeSessions" boolean NOT NULL DEFAULT false,
        "storedLocally" boolean NOT NULL DEFAULT false,
        "storedInCloud" boolean NOT NULL DEFAULT false,
        "cloudError" text,
        "cloudPublicId" text,
        "cloudVersion" bigint,
        "cloudBytes" bigint,
        "completedAt" timestamp(3),
        "lastVerifiedAt" timestamp(3),
        "schemaVersion" text,
        "formatVersion" integer,
        "jobId" text,
        CONSTRAINT "kiln_backup_details_pkey" PRIMARY KEY ("id")
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS "kiln_backup_details_jobId_idx" ON "kiln_backup_details" ("jobId")`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS "kiln_schedule_settings" (
        "id" text NOT NULL,
        "cron" text,
        "timezone" text,
        "keepAtLeast" integer NOT NULL DEFAULT 3,
        "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT "kiln_schedule_settings_pkey" PRIMARY KEY ("id")
      )`);

    await this.convertBackupRecords(q);
    await this.convertScheduleSettings(q);
  }

  /** Kiln's values out of an earlier Kiln's `backup_records` columns, then the table back to Prisma's shape. */
  private async convertBackupRecords(q: QueryRunner): Promise<void> {
    const columns = await columnsOf(q, 'backup_records');
    if (columns.size === 0 || !columns.has('formatVersion')) return; // Prisma's own table (or none): untouched
    const col = (name: string, fallback: string) => (columns.has(name) ? `"${name}"` : fallback);
    for (const name of ['cloudinaryUrl', 'createdBy']) {
      if (!columns.has(name)) await q.query(`ALTER TABLE ${APP_SCHEMA}."backup_records" ADD COLUMN "${name}" text`);
    }
    // Rows Kiln wrote carry a formatVersion; the app's rows have no Kiln facts to keep.
    await q.query(`
      INSERT INTO "kiln_backup_details" ("id", "origin", "kind", "fileSize", "compressed", "encrypted", "checksum",
        "includeAuditLogs", "includeSessions", "storedLocally", "storedInCloud", "cloudError", "cloudPublicId",
        "cloudVersion", "cloudBytes", "completedAt", "lastVerifiedAt", "schemaVersion", "formatVersion", "jobId")
      SELECT "id", 'KILN', upper("type"), "fileSize"::bigint, ${col('compressed', 'false')}, ${col('encrypted', 'false')}, ${col('checksum', 'NULL')},
        ${col('includeAuditLogs', 'false')}, ${col('includeSessions', 'false')}, ${col('storedLocally', 'false')}, ${col('storedInCloud', 'false')},
        ${col('cloudError', 'NULL')}, ${col('cloudPublicId', 'NULL')}, ${col('cloudVersion', 'NULL')}, ${col('cloudBytes', 'NULL')},
        ${col('completedAt', 'NULL')}, ${col('lastVerifiedAt', 'NULL')}, ${col('schemaVersion', 'NULL')}, "formatVersion", ${col('jobId', 'NULL')}
        FROM ${APP_SCHEMA}."backup_records" WHERE "formatVersion" IS NOT NULL
      ON CONFLICT ("id") DO NOTHING`);
    const keys = Object.entries(DATA_KEYS).map(([table, key]) => `('${table}', '${key}')`).join(', ');
    await q.query(`
      UPDATE ${APP_SCHEMA}."backup_records" r SET
        "createdBy" = COALESCE(r."createdBy", ${columns.has('createdById') ? 'r."createdById"' : 'NULL'}),
        "status" = CASE WHEN r."status" IN ('IN_PROGRESS', 'COMPLETED', 'FAILED') THEN lower(r."status") ELSE r."status" END,
        "type" = CASE WHEN r."type" IN ('MANUAL', 'PRE_RESTORE', 'PRE_RESET') THEN 'manual' WHEN r."type" = 'SCHEDULED' THEN 'scheduled' ELSE r."type" END,
        "location" = CASE WHEN r."location" IN ('LOCAL', 'CLOUD', 'BOTH') THEN lower(r."location") ELSE r."location" END,
        "recordCounts" = (SELECT jsonb_object_agg(COALESCE(k.key, c.key), c.value)
                            FROM jsonb_each(r."recordCounts") c LEFT JOIN (VALUES ${keys}) AS k("table", key) ON k."table" = c.key)
      WHERE r."formatVersion" IS NOT NULL`);
    await q.query(`UPDATE ${APP_SCHEMA}."backup_records" SET "fileSize" = ${INT4_MAX} WHERE "fileSize" > ${INT4_MAX}`);
    await reshape(q, 'backup_records', BACKUP_RECORDS, BACKUP_RECORDS_INDEXES);
  }

  /** Kiln's additions out of an earlier Kiln's `backup_schedule_settings`, then the table back to Prisma's shape. */
  private async convertScheduleSettings(q: QueryRunner): Promise<void> {
    const columns = await columnsOf(q, 'backup_schedule_settings');
    if (columns.size === 0 || !columns.has('cron')) return;
    const col = (name: string, fallback: string) => (columns.has(name) ? `"${name}"` : fallback);
    await q.query(`
      INSERT INTO "kiln_schedule_settings" ("id", "cron", "timezone", "keepAtLeast", "updatedAt")
      SELECT "id", "cron", ${col('timezone', 'NULL')}, ${col('keepAtLeast', '3')}, ${col('updatedAt', 'CURRENT_TIMESTAMP')}
        FROM ${APP_SCHEMA}."backup_schedule_settings"
      ON CONFLICT ("id") DO NOTHING`);
    await q.query(`
      UPDATE ${APP_SCHEMA}."backup_schedule_settings" SET
        "frequency" = CASE WHEN "frequency" = upper("frequency") THEN lower("frequency") ELSE "frequency" END,
        "location" = CASE WHEN "location" IN ('LOCAL', 'CLOUD', 'BOTH') THEN lower("location") ELSE "location" END`);
    await reshape(q, 'backup_schedule_settings', SCHEDULE_SETTINGS, SCHEDULE_SETTINGS_INDEXES);
  }

  async down(q: QueryRunner): Promise<void> {
    // The app's tables keep Prisma's shape; Kiln's facts about their rows go with Kiln's tables.
    await q.query(`DROP TABLE IF EXISTS "kiln_schedule_settings"`);
    await q.query(`DROP TABLE IF EXISTS "kiln_backup_details"`);
  }
}

async function tableIn(q: QueryRunner, schema: string, table: string): Promise<boolean> {
  const [{ exists }] = (await q.query(`SELECT to_regclass($1) IS NOT NULL AS "exists"`, [`"${schema}"."${table}"`])) as Array<{ exists: boolean }>;
  return exists;
}

async function moveIntoKilnSchema(q: QueryRunner, table: string, kiln: string): Promise<void> {
  if (!(await tableIn(q, APP_SCHEMA, table))) return;
  if (!(await tableIn(q, kiln, table))) {
    await q.query(`ALTER TABLE ${APP_SCHEMA}."${table}" SET SCHEMA "${kiln}"`);
    return;
  }
  if (table !== 'kiln_meta') {
    throw new Error(`Both ${APP_SCHEMA}.${table} and ${kiln}.${table} exist: move or drop one by hand (Kiln keeps its tables in ${kiln})`);
  }
  await q.query(`INSERT INTO "${kiln}"."kiln_meta" SELECT * FROM ${APP_SCHEMA}."kiln_meta" ON CONFLICT (key) DO NOTHING`);
  await q.query(`DROP TABLE ${APP_SCHEMA}."kiln_meta"`);
}

async function columnsOf(q: QueryRunner, table: string): Promise<Set<string>> {
  const rows = (await q.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
    [APP_SCHEMA, table],
  )) as Array<{ column_name: string }>;
  return new Set(rows.map((r) => r.column_name));
}

/** Gives a table exactly these columns (types, NOT NULL, defaults) and indexes, dropping what is not named. */
async function reshape(q: QueryRunner, table: string, spec: ColumnSpec[], indexes: Record<string, string>): Promise<void> {
  const t = `${APP_SCHEMA}."${table}"`;
  const existing = await columnsOf(q, table);
  const types = new Map<string, string>(
    (
      (await q.query(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
          WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
        [`${APP_SCHEMA}."${table}"`],
      )) as Array<{ name: string; type: string }>
    ).map((r) => [r.name, r.type]),
  );
  for (const name of existing) {
    if (!spec.some((c) => c.name === name)) await q.query(`ALTER TABLE ${t} DROP COLUMN "${name}"`);
  }
  for (const c of spec) {
    if (!existing.has(c.name)) await q.query(`ALTER TABLE ${t} ADD COLUMN "${c.name}" ${c.type}`);
    await q.query(`ALTER TABLE ${t} ALTER COLUMN "${c.name}" DROP DEFAULT`);
    // Only where it differs (fileSize BIGINT → INTEGER): CockroachDB treats any type change as experimental.
    if (existing.has(c.name) && types.get(c.name) !== c.type) {
      await q.query(`ALTER TABLE ${t} ALTER COLUMN "${c.name}" TYPE ${c.type} USING "${c.name}"::${c.type}`);
    }
    if (c.default) await q.query(`ALTER TABLE ${t} ALTER COLUMN "${c.name}" SET DEFAULT ${c.default}`);
    if (c.notNull) await q.query(`ALTER TABLE ${t} ALTER COLUMN "${c.name}" SET NOT NULL`);
    else await q.query(`ALTER TABLE ${t} ALTER COLUMN "${c.name}" DROP NOT NULL`);
  }
  const present = (await q.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2`, [
    APP_SCHEMA,
    table,
  ])) as Array<{ indexname: string }>;
  for (const { indexname } of present) {
    if (!(indexname in indexes)) await q.query(`DROP INDEX ${APP_SCHEMA}."${indexname}"`);
  }
  for (const [name, ddl] of Object.entries(indexes)) {
    if (ddl && !present.some((p) => p.indexname === name)) await q.query(ddl);
  }
}
