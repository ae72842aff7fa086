import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Client } from 'pg';
import { seedDemoData } from '../../src/seed/demo-data.seeder';
import { freshDatabase, workerDatabaseName } from './test-database';
import { gql, loginToken, startTestKiln, type TestKiln } from './test-kiln';

export const CREATE_BACKUP = 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id kind status backup { id status } } }';
export const JOB_QUERY = `query($id: ID!) { job(id: $id) { id status percent error message rowsDone
  backup { id status filename fileSize compressed encrypted checksum fileChecksum origin warnings recordCounts storedLocally error downloadUrl createdBy { email } } } }`;

export interface SeededKiln {
  kiln: TestKiln;
  token: string;
  db: Client;
  close(): Promise<void>;
}

/** A gateway on a fresh database holding demo data, logged in as the test admin. */
export async function startSeededKiln(members: number, env: Record<string, string> = {}, database?: string): Promise<SeededKiln> {
  const kiln = await startTestKiln(env, database ? await freshDatabase(database, { migrated: true }) : undefined);
  const db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  await seedDemoData(db, { members, seed: 5 });
  await db.query('ANALYZE');
  const token = await loginToken(kiln.url);
  return {
    kiln,
    token,
    db,
    close: async () => {
      await db.end();
      await kiln.close();
    },
  };
}

/** Starts a backup over GraphQL and returns the job id (failing the test on an error). */
export async function startBackup(s: SeededKiln, input: Record<string, unknown> = {}): Promise<{ jobId: string; backupId: string }> {
  const res = await gql(s.kiln.url, CREATE_BACKUP, { i: input }, s.token);
  if (!res.data?.createBackup) throw new Error(`createBackup failed: ${JSON.stringify(res.errors)}`);
  return { jobId: res.data.createBackup.id, backupId: res.data.createBackup.backup.id };
}

/** Waits for the job on this instance, then reads it back over GraphQL. */
export async function finishedJob(s: SeededKiln, jobId: string): Promise<any> {
  await s.kiln.services.jobs.settled(jobId);
  return (await gql(s.kiln.url, JOB_QUERY, { id: jobId }, s.token)).data!.job;
}

/** A backup file's text (fine at test sizes), gzip or not. */
export function backupFileText(file: string): string {
  const bytes = readFileSync(file);
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** A backup file parsed whole. */
export function parseBackupFile(file: string): any {
  return JSON.parse(backupFileText(file));
}

/** A second database for this worker, next to the one startTestKiln uses. */
export function extraDatabaseName(suffix: string): string {
  return `${workerDatabaseName()}_${suffix}`;
}

/**
 * Runs `fn` while another connection holds an exclusive lock on a table of the database (`s`'s
 * gateway's, or a URL): by default a lending table that logins and audit entries never touch, so
 * a backup started inside stays RUNNING (its snapshot waits on the lock) until `fn` ends; on
 * "AuditLog", Kiln meets what a restore's lock on the audit table does to it.
 */
export async function whileTableLocked<T>(s: { kiln: { databaseUrl: string } } | string, fn: () => Promise<T>, table = 'LoanType'): Promise<T> {
  const locker = new Client({ connectionString: typeof s === 'string' ? s : s.kiln.databaseUrl });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
    return await fn();
  } finally {
    await locker.query('COMMIT').catch(() => undefined);
    await locker.end();
  }
}
