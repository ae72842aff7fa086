import pg from 'pg';
import type { DataSource } from 'typeorm';
import { withOptions } from '../db/data-source';
import { query, type SqlRunner } from '../db/sql';
import { ConflictError } from '../errors/kiln-errors';
import { JobStore } from '../jobs/job.store';

/** How long a session read waits on a table lock before it asks whether a restore holds it. */
const LOCK_WAIT_MS = 500;
const LOCK_NOT_AVAILABLE = '55P03';
/** After a read found a restore holding the tables, reads go to Kiln's copy first for this long. */
const RESTORE_SEEN_MS = 2000;

export interface SessionRow {
  userId: string;
  role: string;
  expiresAt: Date;
  revokedAt: Date | null;
  isActive: boolean;
  deleted: boolean;
}

export interface LoginAccount {
  id: string;
  role: string;
  isActive: boolean;
  passwordHash: string;
}

/**
 * Reads sessions and login accounts without waiting on a restore. A restore holds User and
 * StaffSession locked from its TRUNCATE until it commits (minutes for a large database): these
 * reads run on a small pool of their own whose statements give up on a lock after 500 ms, and
 * then check the admin sessions the restore copied into kiln_restore_sessions when it began
 * (this module owns that table). Every session ends when the restore commits, the copy with it.
 */
export class SessionReader {
  private readonly pool: pg.Pool;
  /** The running restore, asked on the lock-bounded pool. */
  private readonly jobs: JobStore;
  private restoreSeenUntil = 0;

  constructor(private readonly dataSource: DataSource) {
    const url = withOptions((dataSource.options as { url: string }).url, `-c lock_timeout=${LOCK_WAIT_MS}`);
    this.pool = new pg.Pool({ connectionString: url, max: 3, application_name: 'kiln-sessions', connectionTimeoutMillis: 5000 });
    // An idle connection the server closed must not take the process down.
    this.pool.on('error', () => undefined);
    this.jobs = new JobStore(this.pool);
  }

  /** The session of `jwtId` with its user, or null; while a restore holds the tables, from the restore's copy. */
  async session(jwtId: string): Promise<SessionRow | null> {
    const rows = await this.read<SessionRow>(
      `SELECT s."userId", u.role::text AS role, s."expiresAt", s."revokedAt", u."isActive", u."deletedAt" IS NOT NULL AS deleted
         FROM "StaffSession" s JOIN "User" u ON u.id = s."userId" WHERE s."jwtId" = $1`,
      [jwtId],
      async (restoreId) =>
        (
          await this.pool.query<SessionRow>(
            `SELECT "userId", role, "expiresAt", NULL::timestamp AS "revokedAt", true AS "isActive", false AS deleted
               FROM kiln_restore_sessions WHERE "jobId" = $1 AND "jwtId" = $2`,
            [restoreId, jwtId],
          )
        ).rows,
    );
    return rows[0] ?? null;
  }

  /** Which of `jwtIds` are sessions of an active ADMIN, not revoked nor expired. */
  async liveSessions(jwtIds: string[]): Promise<Set<string>> {
    const rows = await this.read<{ jwtId: string }>(
      `SELECT s."jwtId" FROM "StaffSession" s JOIN "User" u ON u.id = s."userId"
        WHERE s."jwtId" = ANY($1) AND s."revokedAt" IS NULL AND s."expiresAt" > now()
          AND u."isActive" AND u."deletedAt" IS NULL AND u.role = 'ADMIN'`,
      [jwtIds],
      async (restoreId) =>
        (
          await this.pool.query<{ jwtId: string }>(
            `SELECT "jwtId" FROM kiln_restore_sessions WHERE "jobId" = $1 AND "jwtId" = ANY($2) AND "expiresAt" > now()`,
            [restoreId, jwtIds],
          )
        ).rows,
    );
    return new Set(rows.map((r) => r.jwtId));
  }

  /**
   * The account a login names. While a restore runs, CONFLICT at once, without touching User:
   * there is nothing to check a password against, and anonymous logins must not queue for its locks.
   */
  async loginAccount(email: string): Promise<LoginAccount | null> {
    if (await this.jobs.runningRestoreId()) {
      throw new ConflictError('A restore is replacing the login accounts: log in again once it has finished (sessions from before it still work)');
    }
    const rows = await this.read<LoginAccount>(
      `SELECT id, role::text AS role, "isActive", "passwordHash" FROM "User" WHERE lower(email) = lower($1) AND "deletedAt" IS NULL LIMIT 1`,
      [email],
      () => {
        throw new ConflictError('A restore is replacing the login accounts: log in again once it has finished (sessions from before it still work)');
      },
    );
    return rows[0] ?? null;
  }

  /** In the restore's own connection, before it locks anything: the admin sessions to honour meanwhile. */
  static async holdDuringRestore(client: SqlRunner, jobId: string): Promise<void> {
    // Rows a crashed restore left behind go first.
    await query(client, `DELETE FROM kiln_restore_sessions r WHERE NOT EXISTS (SELECT 1 FROM kiln_jobs j WHERE j.id = r."jobId" AND j.status = 'RUNNING')`);
    await query(
      client,
      `INSERT INTO kiln_restore_sessions ("jwtId", "jobId", "userId", role, "expiresAt")
       SELECT s."jwtId", $1, s."userId", u.role::text, s."expiresAt" FROM "StaffSession" s JOIN "User" u ON u.id = s."userId"
        WHERE s."revokedAt" IS NULL AND s."expiresAt" > now() AND u."isActive" AND u."deletedAt" IS NULL AND u.role = 'ADMIN'
       ON CONFLICT DO NOTHING`,
      [jobId],
    );
  }

  /** Once the restore has ended (in its transaction, so the copy goes as its sessions do; and after, for a rollback). */
  static async release(client: SqlRunner, jobId: string): Promise<void> {
    await query(client, `DELETE FROM kiln_restore_sessions WHERE "jobId" = $1`, [jobId]);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /**
   * `sql` on the lock-bounded pool. While a restore holds the tables (a read timed out on a lock,
   * or did so in the last 2 s), `duringRestore` answers from its copy instead. A lock held by
   * anything else (the app's deploy changing its schema) is waited for, as before.
   */
  private async read<T extends pg.QueryResultRow>(sql: string, params: unknown[], duringRestore: (restoreId: string) => Promise<T[]>): Promise<T[]> {
    if (Date.now() < this.restoreSeenUntil) {
      const restoreId = await this.runningRestore();
      if (restoreId) return duringRestore(restoreId);
    }
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      const restoreId = await this.runningRestore();
      if (!restoreId) return query<T>(this.dataSource, sql, params);
      this.restoreSeenUntil = Date.now() + RESTORE_SEEN_MS;
      return duringRestore(restoreId);
    }
  }

  private async runningRestore(): Promise<string | undefined> {
    const id = await this.jobs.runningRestoreId();
    if (!id) this.restoreSeenUntil = 0;
    return id;
  }
}
