import type { DataSource, EntityManager } from 'typeorm';
import { query, queryOne, quoteIdent } from '../../db/sql';
import { BackupLocation, BackupOrigin, BackupStatus, BackupType } from '../backup.enums';
import {
  APP_FILE_SIZE_MAX,
  appLocation,
  appStatus,
  appType,
  fromAppRecordCounts,
  parseAppLocation,
  parseAppStatus,
  parseAppType,
  toAppRecordCounts,
} from './app-conventions';
import { BackupDetails } from './backup-details.entity';
import { BackupRecordRow } from './backup-record-row.entity';
import { BackupRecord } from './backup-record';
import { appCloudCopy, cloudCopyOfUrl, localPathProblem } from './backup-file-location';

export interface BackupFilter {
  status?: BackupStatus | null;
  type?: BackupType | null;
  location?: BackupLocation | null;
  origin?: BackupOrigin | null;
}

/** What the backup health figures are computed from. */
export interface BackupStats {
  lastSuccess: Date | null;
  lastFailure: Date | null;
  failedSince: number;
  total: number;
  bytes: number;
  /** Of `bytes`: the completed backups with a copy on this machine, and with one in the cloud. */
  localBytes: number;
  cloudBytes: number;
  cloudFailedSince: number;
  plainCloud: number;
}

/** Fields of a BackupRecord that live in the app's row (the rest live in kiln_backup_details). */
type AppField = 'filename' | 'status' | 'type' | 'location' | 'fileSize' | 'localPath' | 'cloudinaryUrl' | 'recordCounts' | 'error' | 'createdById';
type DetailsField = Exclude<keyof BackupDetails, 'id' | 'origin' | 'kind'>;
const DETAILS_FIELDS: DetailsField[] = [
  'fileSize',
  'compressed',
  'encrypted',
  'checksum',
  'fileChecksum',
  'snapshot',
  'snapshotAt',
  'includeAuditLogs',
  'includeSessions',
  'storedLocally',
  'storedInCloud',
  'cloudError',
  'cloudPublicId',
  'cloudVersion',
  'cloudBytes',
  'completedAt',
  'lastVerifiedAt',
  'schemaVersion',
  'formatVersion',
  'jobId',
];

const KNOWN_STATUSES = ['in_progress', 'completed', 'failed'];
const KNOWN_TYPES = ['manual', 'scheduled'];
const KNOWN_LOCATIONS = ['local', 'cloud', 'both'];
const SAFETY_KINDS = [BackupType.PRE_RESTORE, BackupType.PRE_RESET];

const SELECT = `
  SELECT r."id", r."filename", r."fileSize" AS "appFileSize", r."location", r."cloudinaryUrl", r."localPath", r."type", r."status",
         r."recordCounts", r."error", r."createdAt", r."createdBy",
         d."origin", d."kind", d."fileSize"::text AS "fileSize", d."compressed", d."encrypted", d."checksum", d."fileChecksum", d."snapshot", d."snapshotAt",
         d."includeAuditLogs", d."includeSessions", d."storedLocally", d."storedInCloud", d."cloudError", d."cloudPublicId",
         d."cloudVersion"::text AS "cloudVersion", d."cloudBytes"::text AS "cloudBytes", d."completedAt", d."lastVerifiedAt",
         d."schemaVersion", d."formatVersion", d."jobId"
    FROM backup_records r LEFT JOIN kiln_backup_details d ON d."id" = r."id"`;

type JoinedRow = Record<string, unknown> & { id: string; status: string; type: string; location: string };
/** BackupStats as the database gives it: sums of bigint come back as text. */
type StatsRow = Omit<BackupStats, 'bytes' | 'localBytes' | 'cloudBytes'> & { bytes: string; localBytes: string; cloudBytes: string };

/**
 * The one owner of `backup_records` (the app's table, in the app's values) and
 * `kiln_backup_details` (Kiln's facts about each row). Reads join the two;
 * writes split a BackupRecord between them. Any value in the app's row, even
 * one nobody knows, reads as a record with a warning, never as an error.
 */
export class BackupRecordStore {
  constructor(private readonly dataSource: DataSource) {}

  async get(id: string): Promise<BackupRecord | null> {
    const row = await queryOne<JoinedRow>(this.dataSource, `${SELECT} WHERE r."id" = $1`, [id]);
    return row ? toRecord(row) : null;
  }

  async list(filter: BackupFilter, limit: number, offset: number): Promise<{ items: BackupRecord[]; total: number }> {
    const params: unknown[] = [];
    const where = filterSql(filter, params);
    const [{ total }] = await query<{ total: number }>(
      this.dataSource,
      `SELECT count(*)::int AS total FROM backup_records r LEFT JOIN kiln_backup_details d ON d."id" = r."id" ${where}`,
      params,
    );
    const rows = await query<JoinedRow>(
      this.dataSource,
      `${SELECT} ${where} ORDER BY r."createdAt" DESC, r."id" DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, limit, offset],
    );
    return { items: rows.map(toRecord), total };
  }

  /** The safety backups (or any of `types`) a job wrote, oldest first. */
  async findByJob(jobId: string, types: BackupType[] = SAFETY_KINDS): Promise<BackupRecord[]> {
    const rows = await query<JoinedRow>(this.dataSource, `${SELECT} WHERE d."jobId" = $1 AND d."kind" = ANY($2) ORDER BY r."createdAt", r."id"`, [jobId, types]);
    return rows.map(toRecord);
  }

  /**
   * Backups a restore to instant `at` can start from, newest first: completed Kiln backups of
   * the lending data whose snapshot is known and was taken at or before `at`.
   */
  async pointInTimeBases(at: Date, limit = 1000): Promise<BackupRecord[]> {
    const rows = await query<JoinedRow>(
      this.dataSource,
      `${SELECT} WHERE lower(r."status") = 'completed' AND d."snapshot" IS NOT NULL AND d."snapshotAt" <= $1 ORDER BY d."snapshotAt" DESC LIMIT $2`,
      [at, limit],
    );
    return rows.map(toRecord);
  }

  /** Candidates for retention: every backup created before `cutoff`, and the newest `keep` completed ones. */
  async retentionCandidates(cutoff: Date, keep: number): Promise<BackupRecord[]> {
    const rows = await query<JoinedRow>(
      this.dataSource,
      `${SELECT} WHERE r."createdAt" < $1
       UNION ALL
       (${SELECT} WHERE lower(r."status") = 'completed' ORDER BY r."createdAt" DESC, r."id" DESC LIMIT $2)`,
      [cutoff, keep],
    );
    return [...new Map(rows.map((row) => [row.id, toRecord(row)])).values()];
  }

  async stats(since: Date): Promise<BackupStats> {
    const [s] = await query<StatsRow>(
      this.dataSource,
      `SELECT
         max(coalesce(d."completedAt", r."createdAt")) FILTER (WHERE lower(r.status) = 'completed') AS "lastSuccess",
         max(coalesce(d."completedAt", r."createdAt")) FILTER (WHERE lower(r.status) = 'failed') AS "lastFailure",
         count(*) FILTER (WHERE lower(r.status) = 'failed' AND r."createdAt" > $1)::int AS "failedSince",
         count(*) FILTER (WHERE lower(r.status) = 'completed')::int AS total,
         coalesce(sum(coalesce(d."fileSize", r."fileSize")) FILTER (WHERE lower(r.status) = 'completed'), 0)::text AS bytes,
         count(*) FILTER (WHERE d."cloudError" IS NOT NULL AND r."createdAt" > $1)::int AS "cloudFailedSince",
         count(*) FILTER (WHERE lower(r.status) = 'completed' AND d."storedInCloud" AND NOT d.encrypted)::int AS "plainCloud",
         coalesce(sum(coalesce(d."fileSize", r."fileSize")) FILTER (WHERE lower(r.status) = 'completed' AND
           CASE WHEN d."origin" = 'KILN' THEN d."storedLocally" ELSE r."localPath" IS NOT NULL END), 0)::text AS "localBytes",
         coalesce(sum(coalesce(d."fileSize", r."fileSize")) FILTER (WHERE lower(r.status) = 'completed' AND
           CASE WHEN d."origin" = 'KILN' THEN d."storedInCloud" ELSE r."cloudinaryUrl" IS NOT NULL OR lower(r."location") IN ('cloud', 'both') END), 0)::text AS "cloudBytes"
       FROM backup_records r LEFT JOIN kiln_backup_details d ON d."id" = r."id"`,
      [since],
    );
    return { ...s, bytes: Number(s.bytes), localBytes: Number(s.localBytes), cloudBytes: Number(s.cloudBytes) };
  }

  /**
   * What /metrics reports of the records, by type (Kiln's kinds, the app's types upper-cased),
   * status and location; the newest success per type with its duration and size; cloud copy failures.
   */
  async metricFacts(since: Date): Promise<BackupMetricFacts> {
    const type = `coalesce(d."kind", upper(r."type"))`;
    const [counts, lastByType, [totals], lastCompleted] = await Promise.all([
      query<{ type: string; status: string; location: string; n: string | number }>(this.dataSource, `SELECT ${type} AS type, upper(r.status) AS status, upper(r.location) AS location, count(*) AS n FROM backup_records r LEFT JOIN kiln_backup_details d ON d."id" = r."id" GROUP BY 1, 2, 3`),
      query<{ type: string; at: Date }>(
        this.dataSource,
        `SELECT ${type} AS type, max(coalesce(d."completedAt", r."createdAt")) AS at
           FROM backup_records r LEFT JOIN kiln_backup_details d ON d."id" = r."id" WHERE lower(r.status) = 'completed' GROUP BY 1`,
      ),
      query<{ cloudFailures: string | number; cloudFailuresSince: string | number; failedSince: string | number; lastFailure: Date | null }>(
        this.dataSource,
        `SELECT count(*) FILTER (WHERE d."cloudError" IS NOT NULL) AS "cloudFailures",
                count(*) FILTER (WHERE d."cloudError" IS NOT NULL AND r."createdAt" > $1) AS "cloudFailuresSince",
                count(*) FILTER (WHERE lower(r.status) = 'failed' AND r."createdAt" > $1) AS "failedSince",
                max(coalesce(d."completedAt", r."createdAt")) FILTER (WHERE lower(r.status) = 'failed') AS "lastFailure"
           FROM backup_records r LEFT JOIN kiln_backup_details d ON d."id" = r."id"`,
        [since],
      ),
      query<{ type: string; seconds: string | number; bytes: string | number }>(
        this.dataSource,
        `SELECT DISTINCT ON (d."kind") d."kind" AS type, extract(epoch FROM d."completedAt" - r."createdAt")::float8 AS seconds, coalesce(d."fileSize", r."fileSize")::float8 AS bytes
           FROM backup_records r JOIN kiln_backup_details d ON d."id" = r."id"
          WHERE lower(r.status) = 'completed' AND d."completedAt" IS NOT NULL AND d."kind" IS NOT NULL
          ORDER BY d."kind", d."completedAt" DESC, r."id" DESC`,
      ),
    ]);
    // Counts come back as text on CockroachDB (INT8): numbers here, once.
    return {
      counts: counts.map((c) => ({ ...c, n: Number(c.n) })),
      lastSuccessByType: lastByType,
      cloudFailures: Number(totals.cloudFailures),
      cloudFailuresSince: Number(totals.cloudFailuresSince),
      failedSince: Number(totals.failedSince),
      lastFailure: totals.lastFailure,
      lastCompleted: lastCompleted.map((l) => ({ type: l.type, seconds: Number(l.seconds), bytes: Number(l.bytes) })),
    };
  }

  /** Records a new backup: the app's row in the app's values, Kiln's facts beside it. */
  async insert(record: BackupRecord): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await tx.getRepository(BackupRecordRow).insert({ id: record.id, createdAt: record.createdAt, ...toAppRow(record) });
      await tx.getRepository(BackupDetails).insert({ id: record.id, origin: BackupOrigin.KILN, kind: record.type, ...pickDetails(record) });
    });
  }

  /**
   * Applies `patch` to both rows. With `onlyIfStatus`, only while the app's row
   * still has that status; returns whether the row was changed.
   */
  async update(id: string, patch: Partial<BackupRecord>, onlyIfStatus?: BackupStatus): Promise<boolean> {
    return this.dataSource.transaction(async (tx) => {
      const app = toAppRow(patch);
      if (onlyIfStatus) {
        const changed = await query(tx, `UPDATE backup_records SET "status" = "status" WHERE "id" = $1 AND lower("status") = $2 RETURNING "id"`, [
          id,
          appStatus(onlyIfStatus),
        ]);
        if (changed.length === 0) return false;
      }
      if (Object.keys(app).length) await tx.getRepository(BackupRecordRow).update({ id }, app);
      await upsertDetails(tx, id, pickDetails(patch));
      return true;
    });
  }

  /** Notes a successful verification (of a Kiln or an app backup). */
  async markVerified(id: string, at: Date = new Date()): Promise<void> {
    await upsertDetails(this.dataSource.manager, id, { lastVerifiedAt: at });
  }

  async delete(id: string): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await tx.getRepository(BackupRecordRow).delete({ id });
      await tx.getRepository(BackupDetails).delete({ id });
    });
  }
}

/** Kiln's facts about a row: inserted with origin APP when the row is the app's own (e.g. verified by Kiln). */
async function upsertDetails(tx: EntityManager, id: string, values: Partial<BackupDetails>): Promise<void> {
  const columns = Object.keys(values);
  if (columns.length === 0) return;
  const params = [id, ...columns.map((c) => (values as Record<string, unknown>)[c])];
  await query(
    tx,
    `INSERT INTO kiln_backup_details ("id", "origin", ${columns.map(quoteIdent).join(', ')})
     VALUES ($1, 'APP', ${columns.map((_, i) => `$${i + 2}`).join(', ')})
     ON CONFLICT ("id") DO UPDATE SET ${columns.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`,
    params,
  );
}

function pickDetails(record: Partial<BackupRecord>): Partial<BackupDetails> {
  const out: Record<string, unknown> = {};
  for (const field of DETAILS_FIELDS) if (record[field] !== undefined) out[field] = record[field];
  return out as Partial<BackupDetails>;
}

/** The app's columns of a (partial) record, in the app's conventions. */
function toAppRow(record: Partial<BackupRecord>): Partial<BackupRecordRow> {
  const out: Partial<BackupRecordRow> = {};
  const set = <K extends AppField>(field: K, apply: (value: NonNullable<BackupRecord[K]> | null) => void) => {
    if (record[field] !== undefined) apply(record[field] as NonNullable<BackupRecord[K]> | null);
  };
  set('filename', (v) => (out.filename = v as string));
  set('status', (v) => (out.status = appStatus(v as BackupStatus)));
  set('type', (v) => (out.type = appType(v as BackupType)));
  set('location', (v) => (out.location = appLocation(v as BackupLocation)));
  set('fileSize', (v) => (out.fileSize = Math.min(v as number, APP_FILE_SIZE_MAX)));
  set('localPath', (v) => (out.localPath = v as string | null));
  set('cloudinaryUrl', (v) => (out.cloudinaryUrl = v as string | null));
  set('recordCounts', (v) => (out.recordCounts = v ? toAppRecordCounts(v as Record<string, number>) : null));
  set('error', (v) => (out.error = v as string | null));
  set('createdById', (v) => (out.createdBy = v as string | null));
  return out;
}

function filterSql(filter: BackupFilter, params: unknown[]): string {
  const clauses: string[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.status) {
    clauses.push(
      filter.status === BackupStatus.UNKNOWN
        ? `lower(r."status") <> ALL(${param(KNOWN_STATUSES)})`
        : `lower(r."status") = ${param(appStatus(filter.status))}`,
    );
  }
  if (filter.type) {
    if (filter.type === BackupType.UNKNOWN) clauses.push(`lower(r."type") <> ALL(${param(KNOWN_TYPES)})`);
    else if (SAFETY_KINDS.includes(filter.type)) clauses.push(`d."kind" = ${param(filter.type)}`);
    else clauses.push(`lower(r."type") = ${param(appType(filter.type))} AND (d."kind" IS NULL OR d."kind" <> ALL(${param(SAFETY_KINDS)}))`);
  }
  if (filter.location) {
    clauses.push(
      filter.location === BackupLocation.UNKNOWN
        ? `lower(r."location") <> ALL(${param(KNOWN_LOCATIONS)})`
        : `lower(r."location") = ${param(appLocation(filter.location))}`,
    );
  }
  if (filter.origin) clauses.push(filter.origin === BackupOrigin.KILN ? `d."origin" = 'KILN'` : `d."origin" IS DISTINCT FROM 'KILN'`);
  return clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** The joined rows as one record; an unknown value becomes UNKNOWN with a warning. */
function toRecord(row: JoinedRow): BackupRecord {
  const warnings: string[] = [];
  const known = <T>(parsed: T | undefined, field: string, stored: string, unknown: T): T => {
    if (parsed !== undefined) return parsed;
    warnings.push(`${field} ${JSON.stringify(stored)} is a value neither the app nor Kiln knows`);
    return unknown;
  };
  const kiln = row.origin === BackupOrigin.KILN;
  const status = known(parseAppStatus(row.status), 'status', row.status, BackupStatus.UNKNOWN);
  let type = known(parseAppType(row.type), 'type', row.type, BackupType.UNKNOWN);
  if (kiln && type === BackupType.MANUAL && SAFETY_KINDS.includes(row.kind as BackupType)) type = row.kind as BackupType;
  const location = known(parseAppLocation(row.location), 'location', row.location, BackupLocation.UNKNOWN);

  const counts = row.recordCounts && typeof row.recordCounts === 'object' ? fromAppRecordCounts(row.recordCounts as Record<string, unknown>) : null;
  const includeAuditLogs = kiln ? Boolean(row.includeAuditLogs) : (counts?.AuditLog ?? 0) > 0;
  const includeSessions = kiln ? Boolean(row.includeSessions) : (counts?.StaffSession ?? 0) > 0;
  // Tables a backup left out are 0 in the app's counts: Kiln lists only what the file holds.
  if (counts && !includeAuditLogs && !counts.AuditLog) delete counts.AuditLog;
  if (counts && !includeSessions && !counts.StaffSession) delete counts.StaffSession;

  const localPath = (row.localPath as string | null) ?? null;
  const pathProblem = localPath === null ? null : localPathProblem(localPath);
  if (pathProblem) warnings.push(pathProblem);
  const cloudinaryUrl = (row.cloudinaryUrl as string | null) ?? null;
  // The app's cloud copy: from its URL, else where the app uploads (`millenium-backups/<filename>`).
  const appCloud = kiln ? null : cloudinaryUrl ? cloudCopyOfUrl(cloudinaryUrl) : location === BackupLocation.CLOUD || location === BackupLocation.BOTH ? appCloudCopy(row.filename as string) : null;
  if (!kiln && cloudinaryUrl && !appCloud) warnings.push(`cloudinaryUrl ${JSON.stringify(cloudinaryUrl)} is not a Cloudinary delivery URL Kiln can read`);
  const createdAt = row.createdAt as Date;

  return Object.assign(new BackupRecord(), {
    id: row.id,
    filename: row.filename as string,
    type,
    status,
    location,
    origin: kiln ? BackupOrigin.KILN : BackupOrigin.APP,
    appValues: { status: row.status, type: row.type, location: row.location },
    warnings,
    fileSize: num(kiln ? row.fileSize : null) ?? (row.appFileSize as number),
    compressed: kiln && Boolean(row.compressed),
    encrypted: kiln && Boolean(row.encrypted),
    checksum: kiln ? ((row.checksum as string | null) ?? null) : null,
    fileChecksum: kiln ? ((row.fileChecksum as string | null) ?? null) : null,
    snapshot: kiln ? ((row.snapshot as string | null) ?? null) : null,
    snapshotAt: kiln ? ((row.snapshotAt as Date | null) ?? null) : null,
    recordCounts: counts,
    includeAuditLogs,
    includeSessions,
    storedLocally: kiln ? Boolean(row.storedLocally) : localPath !== null,
    storedInCloud: kiln ? Boolean(row.storedInCloud) : appCloud !== null,
    cloudError: kiln ? ((row.cloudError as string | null) ?? null) : null,
    error: (row.error as string | null) ?? null,
    createdById: (row.createdBy as string | null) ?? null,
    createdAt,
    completedAt: kiln ? ((row.completedAt as Date | null) ?? null) : status === BackupStatus.COMPLETED ? createdAt : null,
    lastVerifiedAt: (row.lastVerifiedAt as Date | null) ?? null,
    schemaVersion: kiln ? ((row.schemaVersion as string | null) ?? null) : null,
    formatVersion: kiln ? num(row.formatVersion) : null,
    localPath,
    cloudinaryUrl,
    cloudPublicId: kiln ? ((row.cloudPublicId as string | null) ?? null) : (appCloud?.publicId ?? null),
    cloudType: kiln ? 'authenticated' : (appCloud?.type ?? 'upload'),
    cloudVersion: kiln ? num(row.cloudVersion) : null,
    cloudBytes: kiln ? num(row.cloudBytes) : null,
    jobId: kiln ? ((row.jobId as string | null) ?? null) : null,
  });
}

export interface BackupMetricFacts {
  counts: Array<{ type: string; status: string; location: string; n: number }>;
  lastSuccessByType: Array<{ type: string; at: Date }>;
  cloudFailures: number;
  cloudFailuresSince: number;
  failedSince: number;
  lastFailure: Date | null;
  /** Per type, the newest completed backup Kiln timed: how long it took, how large it is. */
  lastCompleted: Array<{ type: string; seconds: number; bytes: number }>;
}
