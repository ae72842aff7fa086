import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { SessionReader } from '../auth/session-reader';

/** The open transaction a restore replaces the data in. */
export interface RestoreTransaction {
  client: PoolClient;
  manager: EntityManager;
}

/**
 * Runs `work` in the one transaction of a restore and commits it unless the job was stopped
 * meanwhile; any error rolls everything back. The load holds User and StaffSession locked until
 * it commits: meanwhile the admin sessions of now are checked from Kiln's copy, so admins can
 * follow and cancel the restore.
 */
export async function inRestoreTransaction<T>(dataSource: DataSource, jobId: string, signal: AbortSignal, work: (tx: RestoreTransaction) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  try {
    await SessionReader.holdDuringRestore(client, jobId);
    await runner.startTransaction();
    const result = await work({ client, manager: runner.manager });
    signal.throwIfAborted();
    await runner.commitTransaction();
    return result;
  } catch (err) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw err;
  } finally {
    await SessionReader.release(client, jobId).catch(() => undefined);
    await runner.release();
  }
}
