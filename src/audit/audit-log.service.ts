import type { DataSource, EntityManager } from 'typeorm';
import type { RequestMeta } from '../auth/identity';
import { AuditLog } from '../domain';
import { newId } from '../db/ids';
import { query } from '../db/sql';
import { BadUserInputError } from '../errors/kiln-errors';
import type { Logger } from '../logging/logger';
import type { AuditEntry, AuditLogFilter, AuditPage } from './audit-log.types';

export interface AuditRecord {
  actorUserId: string | null;
  action: string;
  entityName: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  metadata?: Record<string, unknown>;
  ipAddress?: string | null;
  userAgent?: string | null;
}

/** The same refusal (actor, operation, code) is written once in this long. */
const REFUSAL_REPEAT_MS = 60_000;
/** Distinct refusals remembered at once; past it, new ones are not written until old ones age out. */
const MAX_REFUSAL_KEYS = 10_000;
const REFUSAL_LOCK_TIMEOUT_MS = 1000;
const METRICS_LOCK_TIMEOUT_MS = 200;
/** PostgreSQL's lock_not_available (a lock_timeout ran out). */
const LOCK_NOT_AVAILABLE = '55P03';

/** Kiln's entries among the app's: every row Kiln writes says so in its metadata. */
const KILN_ROWS = `a.metadata->>'source' = 'kiln'`;

/** Writes the lending app's AuditLog rows for what admins do through Kiln, and reads Kiln's back. */
export class AuditLogService {
  private readonly refusalsWritten = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger?: Logger,
  ) {}

  /** Pass the transaction's manager to make the entry part of it (then call announce() once it committed). */
  async record(entry: AuditRecord, manager: EntityManager = this.dataSource.manager): Promise<void> {
    const row = manager.create(AuditLog, {
      id: newId(),
      actorUserId: entry.actorUserId,
      action: entry.action,
      entityName: entry.entityName,
      entityId: entry.entityId,
      before: entry.before ?? null,
      after: entry.after ?? null,
      metadata: { source: 'kiln', ...entry.metadata },
      ipAddress: entry.ipAddress ?? null,
      userAgent: entry.userAgent ?? null,
    });
    await manager.insert(AuditLog, row);
  }

  /** The log line of an admin action whose entry is written: who did what to which entity (no snapshots: they may hold data). */
  announce(entry: AuditRecord): void {
    this.logger?.info(
      { event: 'audit', action: entry.action, entityName: entry.entityName, entityId: entry.entityId, actorUserId: entry.actorUserId, ipAddress: entry.ipAddress ?? null },
      `audit: ${entry.action} ${entry.entityName} ${entry.entityId}`,
    );
  }

  /**
   * A dangerous mutation a signed-in caller was refused (its error's code and message), in the
   * audit table and the log; anonymous refusals are not written (nobody fills the table for free).
   * Never waits and never throws: the write runs in the background with a lock timeout (a restore
   * holds AuditLog until it commits; the refused request must not wait for it), and the same
   * actor, operation and code are written once a minute at most.
   */
  recordRefusal(actorUserId: string, operation: string, refusal: { code: string; message: string }, meta: RequestMeta): void {
    const key = `${actorUserId}|${operation}|${refusal.code}`;
    const now = Date.now();
    const last = this.refusalsWritten.get(key);
    if (last !== undefined && now - last < REFUSAL_REPEAT_MS) return;
    if (this.refusalsWritten.size >= MAX_REFUSAL_KEYS) {
      for (const [k, at] of this.refusalsWritten) if (now - at >= REFUSAL_REPEAT_MS) this.refusalsWritten.delete(k);
      if (this.refusalsWritten.size >= MAX_REFUSAL_KEYS) return;
    }
    this.refusalsWritten.set(key, now);
    const entry: AuditRecord = {
      actorUserId,
      action: 'MUTATION_REFUSED',
      entityName: 'Mutation',
      entityId: operation,
      metadata: { code: refusal.code, message: refusal.message.slice(0, 500) },
      ipAddress: meta.ipAddress,
      userAgent: meta.userAgent,
    };
    const write: Promise<void> = this.dataSource
      .transaction(async (tx) => {
        await query(tx, `SET LOCAL lock_timeout = '${REFUSAL_LOCK_TIMEOUT_MS}ms'`);
        await this.record(entry, tx);
      })
      .then(() => this.announce(entry))
      .catch((err: unknown) =>
        this.logger?.warn({ event: 'audit_failed', action: entry.action, entityId: operation, err: (err as Error).message }, 'the audit entry of a refused mutation was not written (AuditLog locked by a restore?)'),
      )
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /** Waits for refusal entries still being written (before the database closes). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /**
   * Backups retention has deleted, as its RETENTION_APPLIED entries list them; null while a
   * restore holds the audit table (the caller keeps what it knew).
   */
  async retentionDeletions(): Promise<number | null> {
    try {
      return await this.dataSource.transaction(async (tx) => {
        await query(tx, `SET LOCAL lock_timeout = '${METRICS_LOCK_TIMEOUT_MS}ms'`);
        const [{ n }] = await query<{ n: string | number }>(
          tx,
          `SELECT coalesce(sum(jsonb_array_length(a.metadata->'deleted')), 0) AS n FROM "AuditLog" a
            WHERE a."entityName" = 'Job' AND a.action = 'RETENTION_APPLIED' AND ${KILN_ROWS} AND jsonb_typeof(a.metadata->'deleted') = 'array'`,
        );
        return Number(n);
      });
    } catch (err) {
      if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) return null;
      throw err;
    }
  }

  /** Kiln's entries, newest first, by action, actor (email in any case, or id) and time. */
  async list(filter: AuditLogFilter, limit: number, offset: number): Promise<AuditPage> {
    if (filter.from && filter.to && filter.from > filter.to) throw new BadUserInputError('from must not be after to', { field: 'from' });
    const where = [KILN_ROWS];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (filter.action) where.push(`a.action = ${param(filter.action)}`);
    if (filter.actor) where.push(`(a."actorUserId" = ${param(filter.actor)} OR lower(u.email) = lower(${param(filter.actor)}))`);
    if (filter.from) where.push(`a."createdAt" >= ${param(filter.from)}`);
    if (filter.to) where.push(`a."createdAt" < ${param(filter.to)}`);
    const from = `FROM "AuditLog" a LEFT JOIN "User" u ON u.id = a."actorUserId" WHERE ${where.join(' AND ')}`;
    const [{ total }] = await query<{ total: number }>(this.dataSource, `SELECT count(*)::int AS total ${from}`, params);
    const rows = await query<AuditEntry>(
      this.dataSource,
      `SELECT a.id, a.action, a."entityName", a."entityId", a."actorUserId", u.email AS "actorEmail", a.before, a.after, a.metadata,
              a."ipAddress", a."userAgent", a."createdAt"
       ${from} ORDER BY a."createdAt" DESC, a.id DESC LIMIT ${param(limit)} OFFSET ${param(offset)}`,
      params,
    );
    return { items: rows, total };
  }
}
