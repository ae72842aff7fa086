import type { Client } from 'pg';
import { gql, loginToken, type TestKiln } from './test-kiln';
import { until } from './until';

/**
 * An instant (to the millisecond, as the API takes it) after every transaction committed before
 * this call and before every one committed after it returns.
 */
export async function instantAfterCommits(db: Client): Promise<Date> {
  const at = (await db.query<{ at: Date }>(`SELECT date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond' AS at`)).rows[0].at;
  await until('the server clock to pass it', async () => (await db.query<{ past: boolean }>('SELECT clock_timestamp() > $1 AS past', [at])).rows[0].past, (past) => past, 5_000, 1);
  return at;
}

/** restoreToPointInTime(at) in maintenance mode, as the runbook does it; the finished job's status. */
export async function restoreToInstant(kiln: TestKiln, at: Date): Promise<string | undefined> {
  const token = await loginToken(kiln.url);
  await gql(kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, token);
  const res = await gql(kiln.url, 'mutation($at: DateTimeISO!) { restoreToPointInTime(at: $at) { id } }', { at: at.toISOString() }, token);
  if (res.errors) throw new Error(`restoreToPointInTime refused: ${JSON.stringify(res.errors)}`);
  const id = res.data!.restoreToPointInTime.id as string;
  await kiln.services.jobs.settled(id);
  const status = (await kiln.services.jobs.get(id))?.status;
  // Everybody is signed out by the restore: a new sign-in ends maintenance.
  await gql(kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, await loginToken(kiln.url));
  return status;
}

/** `sql` in a transaction of its own, committed; the transaction's 64-bit xid (as text), as the journal records it. */
export async function committedChange(db: Client, sql: string, params: unknown[] = []): Promise<string> {
  await db.query('BEGIN');
  const { xid } = (await db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0];
  await db.query(sql, params);
  await db.query('COMMIT');
  return xid;
}

/** A LoanType named `id`, in a transaction of its own; its xid. */
export const insertLoanType = (db: Client, id: string): Promise<string> =>
  committedChange(db, `INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ($1, $1, 1, 2, now())`, [id]);
