/**
 * What `prisma db push` would see after a day of Kiln: the app's schema (`public`), dumped with
 * pg_dump before Kiln first ran and after its migrations and a day of activity (backups of every
 * kind, verify with a drill, schedule changes, a scheduled fire, retention, restore, reset), must
 * be identical. pg_dump cannot dump a server newer than itself, so this runs on the machine's
 * PostgreSQL (KILN_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres: PostgreSQL 15
 * here, a second server version next to the embedded 18) when one answers; on the embedded server
 * otherwise, where the catalog comparison still holds and the pg_dump one is reported as not run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { writeAppBackupFile } from './support/app-backup-file';
import { loadSqlFile, pgDumpPublicSchema, publicCatalog, REFERENCE_DDL } from './support/public-schema';
import { RESTORE } from './support/restore-helpers';
import { CREATE_BACKUP } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { errorCode, gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

const OTHER_SERVER = process.env.KILN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = `kiln_test_drift_${process.env.KILN_TEST_RUN_ID ?? 'x'}_${process.env.JEST_WORKER_ID ?? '1'}`;

/** A database on the machine's server, or null when none answers (then the embedded one is used). */
async function otherServerDatabase(): Promise<{ url: string; pgDump: boolean } | null> {
  const admin = new Client({ connectionString: OTHER_SERVER, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  try {
    const serverMajor = Math.floor(Number((await admin.query('SHOW server_version_num')).rows[0].server_version_num) / 10000);
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    const url = new URL(OTHER_SERVER);
    url.pathname = `/${DATABASE}`;
    url.searchParams.set('options', '-c search_path=kiln,public');
    return { url: url.toString(), pgDump: pgDumpMajor() >= serverMajor };
  } finally {
    await admin.end();
  }
}

function pgDumpMajor(): number {
  try {
    return Number(/(\d+)\.\d+/.exec(execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }))![1]);
  } catch {
    return 0;
  }
}

let kiln: TestKiln | undefined;
let otherServer = false;
afterAll(async () => {
  await kiln?.close();
  // The machine's server is shared: leave nothing on it.
  if (!otherServer) return;
  const admin = new Client({ connectionString: OTHER_SERVER });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).finally(() => admin.end());
});

it("leaves the app's schema exactly as Prisma made it after migrations and a day of Kiln activity", async () => {
  const other = await otherServerDatabase();
  otherServer = other !== null;
  const url = other?.url ?? (await freshDatabase(DATABASE));
  await loadSqlFile(url, REFERENCE_DDL);
  const catalogBefore = await publicCatalog(url);
  const dumpBefore = other?.pgDump ? await pgDumpPublicSchema(url) : null;
  if (!dumpBefore) console.warn(`app-schema-drift: pg_dump comparison not run (${other ? 'pg_dump older than the server' : 'no second PostgreSQL server answers'}); catalog comparison only`);

  const appDir = mkdtempSync(path.join(tmpdir(), 'kiln-drift-app-'));
  kiln = await startTestKiln({ APP_BACKUP_DIR: appDir, SCHEDULE_MIN_INTERVAL_SECONDS: '1', SCHEDULE_POLL_SECONDS: '0.5' }, url);
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await seedDemoData(db, { members: 20, seed: 3 });
    let token = await loginToken(kiln.url);
    const run = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await gql(kiln!.url, query, variables, token);
      expect(res.errors).toBeUndefined();
      return res.data!;
    };
    const settled = async (jobId: string) => {
      await kiln!.services.jobs.settled(jobId);
      const job = (await kiln!.services.jobs.get(jobId))!;
      expect([job.status, job.error]).toEqual(['COMPLETED', null]);
      return job;
    };

    // The app's own backup and schedule rows are there first.
    const appFile = path.join(appDir, 'backup_2026-03-01T02-00-00-000Z.json');
    await writeAppBackupFile(db, appFile);
    await db.query(
      `INSERT INTO backup_records (id, filename, "fileSize", location, "localPath", type, status, "createdAt") VALUES ('app-1', $1, 1, 'local', $2, 'manual', 'completed', now())`,
      [path.basename(appFile), appFile],
    );
    await db.query(`INSERT INTO backup_schedule_settings (id, frequency, location, "updatedAt") VALUES ('default', 'daily', 'local', now())`);

    const manual = await run(CREATE_BACKUP, { i: { includeAuditLogs: true, includeSessions: true } });
    await settled(manual.createBackup.id);
    await settled((await run('mutation($id: ID!) { verifyBackup(id: $id, restoreDrill: true) { id } }', { id: manual.createBackup.backup.id })).verifyBackup.id);
    await settled((await run('mutation($id: ID!) { verifyBackup(id: $id, restoreDrill: true) { id } }', { id: 'app-1' })).verifyBackup.id);

    // A scheduled fire, then the schedule back to the app's daily one.
    await run('mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { frequency } }', { i: { frequency: 'CUSTOM', cron: '*/2 * * * * *', keepAtLeast: 2, retentionDays: 1 } });
    await until('a scheduled backup', async () => (await db.query(`SELECT status FROM backup_records WHERE type = 'scheduled'`)).rows, (rows) => rows.some((r) => r.status === 'completed'), 30_000);
    await run('mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { frequency } }', { i: { frequency: 'DAILY' } });
    // Every fire claimed so far has run to its end (one still waiting for the lease starts late).
    const unfinishedFires = `SELECT count(*)::int AS n FROM kiln_schedule_runs r LEFT JOIN kiln_jobs j ON j.id = r."jobId"
      WHERE r.kind = 'BACKUP' AND ((r."jobId" IS NULL AND r."backupId" IS NULL) OR j.status IN ('QUEUED', 'RUNNING'))`;
    await until('every scheduled fire to finish', async () => (await db.query(unfinishedFires)).rows[0].n, (n) => n === 0, 60_000);
    await until('no backup running', async () => (await db.query(`SELECT count(*)::int AS n FROM backup_records WHERE status = 'in_progress'`)).rows[0].n, (n) => n === 0, 30_000);
    await db.query(`UPDATE backup_records SET "createdAt" = now() - interval '3 days' WHERE id = 'app-1'`);
    // The scheduled backups' own retention run may still be going (it starts after their end): ours follows it.
    let retention = await gql(kiln.url, 'mutation { applyRetention { id } }', {}, token);
    for (let tries = 1; errorCode(retention) === 'CONFLICT' && tries < 5; tries++) {
      await kiln.services.jobs.settled(retention.errors![0].extensions!.runningJobId);
      retention = await gql(kiln.url, 'mutation { applyRetention { id } }', {}, token);
    }
    expect(retention.errors).toBeUndefined();
    await settled(retention.data!.applyRetention.id);

    await run('mutation { setMaintenanceMode(enabled: true) { enabled } }');
    await settled((await run(RESTORE, { id: manual.createBackup.backup.id })).restoreBackup.id);
    token = await loginToken(kiln.url);
    await run('mutation { setMaintenanceMode(enabled: false) { enabled } }');
    const reset = await run('mutation($c: String!, $p: String) { resetSystem(confirmation: $c, superAdminPassword: $p) { job { id } } }', {
      c: 'DELETE',
      p: 'a-long-enough-super-admin-password',
    });
    await settled(reset.resetSystem.job.id);

    // Every kind of backup was written, in the app's values.
    const kinds = (await db.query(`SELECT DISTINCT r.type, d.kind FROM backup_records r JOIN kiln_backup_details d ON d.id = r.id ORDER BY 1, 2`)).rows;
    expect(kinds).toEqual([
      { type: 'manual', kind: 'MANUAL' },
      { type: 'manual', kind: 'PRE_RESET' },
      { type: 'manual', kind: 'PRE_RESTORE' },
      { type: 'scheduled', kind: 'SCHEDULED' },
    ]);
  } finally {
    await db.end();
    await kiln.close();
    kiln = undefined;
  }

  expect(await publicCatalog(url)).toEqual(catalogBefore);
  if (dumpBefore) expect(await pgDumpPublicSchema(url)).toEqual(dumpBefore);
});
