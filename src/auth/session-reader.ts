import pg from 'pg';
import type { DataSource } from 'typeorm';
import { ConflictError } from '../errors/kiln-errors';

/** How long a session read waits on a table lock before it asks the restore's copy instead. */
const LOCK_WAIT_MS = 500;
const LOCK_NOT_AVAILABLE = '55P03';

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

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Reads sessions and login accounts without waiting on a restore. A restore holds User and
 * StaffSession locked from its TRUNCATE until it commits (minutes for a large database): these
 * reads run on a small pool of their own whose statements give up on a lock after 500 ms, and
 * then check the admin sessions the restore copied into kiln_restore_sessions when it began
 * (this module owns that table). Every session ends when the restore commits, the copy with it.
 */
export class SessionReader {
  private readonly pool: pg.Pool;

  constructor(private readonly dataSource: DataSource) {
    const url = new URL((dataSource.options as { url: string }).url);
    url.searchParams.set('options', `${url.searchParams.get('options') ?? ''} -c lock_timeout=${LOCK_WAIT_MS}`.trim());
    this.pool = new pg.Pool({ connectionString: url.toString(), max: 3, application_name: 'kiln-sessions' });
    // An idle connection the server closed must not take the process down.
    this.pool.on('error', () => undefined);
  }

  /** The session of `jwtId` with its user, or null; during a restore, from the restore's copy. */
  async session(jwtId: string): Promise<SessionRow | null> {
    const read = `SELECT s."userId", u.role::text AS role, s."expiresAt", s."revokedAt", u."isActive", u."deletedAt" IS NOT NULL AS deleted
                    FROM "StaffSession" s JOIN "User" u ON u.id = s."userId" WHERE s."jwtId" = $1`;
    const rows = await this.orDuringRestore(read, [jwtId], async () =>
      (
        await this.pool.query<SessionRow>(
          `SELECT r."userId", r.role, r."expiresAt", NULL::timestamp AS "revokedAt", true AS "isActive", false AS deleted
             FROM kiln_restore_sessions r JOIN kiln_jobs j ON j.id = r."jobId" AND j.status = 'RUNNING'
            WHERE r."jwtId" = $1 LIMIT 1`,
          [jwtId],
        )
      ).rows,
    );
    return rows[0] ?? null;
  }

  /** Which of `jwtIds` are sessions of an active ADMIN, not revoked nor expired. */
  async liveSessions(jwtIds: string[]): Promise<Set<string>> {
    const read = `SELECT s."jwtId" FROM "StaffSession" s JOIN "User" u ON u.id = s."userId"
                   WHERE s."jwtId" = ANY($1) AND s."revokedAt" IS NULL AND s."expiresAt" > now()
                     AND u."isActive" AND u."deletedAt" IS NULL AND u.role = 'ADMIN'`;
    const rows = await this.orDuringRestore<{ jwtId: string }>(read, [jwtIds], async () =>
      (
        await this.pool.query<{ jwtId: string }>(
          `SELECT r."jwtId" FROM kiln_restore_sessions r JOIN kiln_jobs j ON j.id = r."jobId" AND j.status = 'RUNNING'
            WHERE r."jwtId" = ANY($1) AND r."expiresAt" > now()`,
          [jwtIds],
        )
      ).rows,
    );
    return new Set(rows.map((r) => r.jwtId));
  }

  /** The account a login names; CONFLICT while a restore replaces the accounts (nothing to check it against). */
  async loginAccount(email: string): Promise<LoginAccount | null> {
    const read = `SELECT id, role::text AS role, "isActive", "passwordHash" FROM "User" WHERE lower(email) = lower($1) AND "deletedAt" IS NULL LIMIT 1`;
    const rows = await this.orDuringRestore<LoginAccount>(read, [email], () => {
      throw new ConflictError('A restore is replacing the login accounts: log in again once it has finished (sessions from before it still work)');
    });
    return rows[0] ?? null;
  }

  /** In the restore's own connection, before it locks anything: the admin sessions to honour meanwhile. */
  static async holdDuringRestore(client: Queryable, jobId: string): Promise<void> {
    await client.query(
      `INSERT INTO kiln_restore_sessions ("jwtId", "jobId", "userId", role, "expiresAt")
       SELECT s."jwtId", $1, s."userId", u.role::text, s."expiresAt" FROM "StaffSession" s JOIN "User" u ON u.id = s."userId"
        WHERE s."revokedAt" IS NULL AND s."expiresAt" > now() AND u."isActive" AND u."deletedAt" IS NULL AND u.role = 'ADMIN'
       ON CONFLICT DO NOTHING`,
      [jobId],
    );
  }

  /** Once the restore has ended (in its transaction, so the copy goes as its sessions do; and after, for a rollback). */
  static async release(client: Queryable, jobId: string): Promise<void> {
    await client.query(`DELETE FROM kiln_restore_sessions WHERE "jobId" = $1`, [jobId]);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /**
   * `sql` on the lock-bounded pool. On a lock it could not get: during a restore, `duringRestore`;
   * otherwise (a schema change by the app's deploy, say) the same read waits its turn as before.
   */
  private async orDuringRestore<T extends pg.QueryResultRow>(sql: string, params: unknown[], duringRestore: () => Promise<T[]> | never): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (err) {
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      const { rows } = await this.pool.query(`SELECT 1 FROM kiln_restore_sessions r JOIN kiln_jobs j ON j.id = r."jobId" AND j.status = 'RUNNING' LIMIT 1`);
      if (rows.length > 0) return duringRestore();
      return (await this.dataSource.query(sql, params)) as T[];
    }
  }
}
