import path from 'node:path';
import { Client } from 'pg';
import { migrations } from '../migrations';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../src/db/data-source';
import { migrateDatabase } from '../src/db/migrate';
import { LENDING_TABLES } from '../src/domain';
import { loadSqlFile, publicCatalog, REFERENCE_DDL, tablesIn } from './support/public-schema';
import { freshDatabase } from './support/test-database';

const worker = process.env.JEST_WORKER_ID ?? '1';
const KILN_TABLES = [
  'kiln_backup_details',
  'kiln_health_state',
  'kiln_jobs',
  'kiln_journal_chains',
  'kiln_journal_segments',
  'kiln_leases',
  'kiln_maintenance',
  'kiln_meta',
  'kiln_notification_failures',
  'kiln_rate_limits',
  'kiln_restore_sessions',
  'kiln_schedule_runs',
  'kiln_schedule_settings',
  'migrations',
];
const APP_TABLES = [...LENDING_TABLES, 'backup_records', 'backup_schedule_settings'].sort();

/** A database the way the app's `prisma db push` makes it: the reference DDL, nothing else. */
async function prismaDatabase(name: string): Promise<string> {
  const url = await freshDatabase(name);
  await loadSqlFile(url, REFERENCE_DDL);
  return url;
}

async function migrated(url: string): Promise<DataSource> {
  const ds = createDataSource(url, 2);
  await ds.initialize();
  await migrateDatabase(ds, 'kiln');
  return ds;
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(sql, params)).rows;
  } finally {
    await db.end();
  }
}

let reference: Record<string, string[]>;

beforeAll(async () => {
  reference = await publicCatalog(await prismaDatabase(`kiln_test_reference_${worker}`));
});

describe('migrations on a new database', () => {
  let url: string;
  let ds: DataSource;

  // One new database, migrated, for the tests that leave its schema as they found it (the idempotent one
  // reruns the migrations over it and checks just that); the revert test migrates one of its own.
  beforeAll(async () => {
    url = await freshDatabase(`kiln_test_migrations_${worker}`);
    ds = await migrated(url);
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
  });

  it("make public exactly the app's schema (the reference DDL), with Kiln's tables in its own schema", async () => {
    expect(reference.tables).toEqual(APP_TABLES);
    expect(await publicCatalog(url)).toEqual(reference);
    expect(await tablesIn(url, 'kiln')).toEqual(KILN_TABLES);
  });

  it('are idempotent: running them again over the same schema changes nothing', async () => {
    await ds.query('DELETE FROM migrations');
    await migrateDatabase(ds, 'kiln');
    expect(await publicCatalog(url)).toEqual(reference);
    expect(await tablesIn(url, 'kiln')).toEqual(KILN_TABLES);
  });

  it('leave no difference between the entities and the schema (but for now() = CURRENT_TIMESTAMP)', async () => {
    const sql = await ds.driver.createSchemaBuilder().log();
    const queries = sql.upQueries.map((q) => q.query).filter((q) => !/SET DEFAULT now\(\)/.test(q));
    // Indexes over those timestamp columns are rebuilt only because of that default.
    const rebuilt = queries.filter((q) => /^CREATE INDEX .*"(changedAt|createdAt)"/.test(q)).map((q) => /INDEX "([^"]+)"/.exec(q)![1]);
    const real = queries.filter((q) => !rebuilt.some((name) => q.includes(`"${name}"`)));
    expect(real).toEqual([]);
  });

  it('revert cleanly when Kiln created the schema: nothing of Kiln or the app is left', async () => {
    const ownUrl = await freshDatabase(`kiln_test_migrations_revert_${worker}`);
    const own = await migrated(ownUrl);
    try {
      while ((await own.query('SELECT count(*)::int AS n FROM migrations'))[0].n > 0) await own.undoLastMigration();
      expect((await publicCatalog(ownUrl)).tables).toEqual([]);
      expect((await publicCatalog(ownUrl)).types).toEqual([]);
      expect(await tablesIn(ownUrl, 'kiln')).toEqual(['migrations']);
    } finally {
      await own.destroy();
    }
  });
});

it('put Kiln\'s tables in the schema KILN_SCHEMA names', async () => {
  const url = await freshDatabase(`kiln_test_migrations_schema_${worker}`);
  const ds = createDataSource(url, 2, 'kiln_ops');
  await ds.initialize();
  try {
    await migrateDatabase(ds, 'kiln_ops');
    expect(await tablesIn(url, 'kiln_ops')).toEqual(KILN_TABLES);
    expect(await tablesIn(url, 'kiln')).toEqual([]);
    expect(await publicCatalog(url)).toEqual(reference);
    // The running gateway's queries find them there.
    expect(await ds.query('SELECT count(*)::int AS n FROM kiln_jobs')).toEqual([{ n: 0 }]);
  } finally {
    await ds.destroy();
  }
});

describe("migrations on the app's own database (made by prisma db push)", () => {
  it('change nothing in public and never drop it, even when reverted', async () => {
    const url = await prismaDatabase(`kiln_test_migrations_prisma_${worker}`);
    await query(url, `INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ('u1', 'a@b.c', 'x', 'ADMIN', now())`);
    const ds = await migrated(url);
    try {
      expect(await publicCatalog(url)).toEqual(reference);
      expect(await tablesIn(url, 'kiln')).toEqual(KILN_TABLES);
      while ((await ds.query('SELECT count(*)::int AS n FROM migrations'))[0].n > 0) await ds.undoLastMigration();
      expect(await publicCatalog(url)).toEqual(reference);
      expect(await query(url, 'SELECT email FROM "User"')).toEqual([{ email: 'a@b.c' }]);
    } finally {
      await ds.destroy();
    }
  });
});

describe('migrations on a database an earlier Kiln left in public', () => {
  it('stop with a clear error and change nothing when a table of Kiln\'s stands in both schemas, then finish once it is gone', async () => {
    const url = await freshDatabase(`kiln_test_migrations_legacy_${worker}`);
    await loadSqlFile(url, path.join(__dirname, 'fixtures', 'legacy-kiln-prisma.sql'));
    await query(url, 'CREATE SCHEMA kiln; CREATE TABLE kiln.kiln_jobs (id text)');
    // Kiln's own history table moves to its schema before the migrations run; nothing else may change.
    const withoutHistory = async () => {
      const c = await publicCatalog(url);
      return Object.fromEntries(Object.entries(c).map(([k, lines]) => [k, lines.filter((l) => !/^migrations( |_|$)|^PK_8c82d7f526340ab734260ea46be /.test(l))]));
    };
    const before = await withoutHistory();
    const rowsBefore = await query(url, 'SELECT * FROM public.backup_records ORDER BY id');
    const ds = createDataSource(url, 2);
    await ds.initialize();
    try {
      await expect(migrateDatabase(ds, 'kiln')).rejects.toThrow(/Both public.kiln_jobs and kiln.kiln_jobs exist/);
      // The migration ran in one transaction: the app's tables and Kiln's values are as they were.
      expect(await withoutHistory()).toEqual(before);
      expect(await query(url, 'SELECT * FROM public.backup_records ORDER BY id')).toEqual(rowsBefore);
      await query(url, 'DROP TABLE kiln.kiln_jobs');
      await migrateDatabase(ds, 'kiln');
      expect(await publicCatalog(url)).toEqual(reference);
    } finally {
      await ds.destroy();
    }
  });

  // pg_dump --inserts of databases the previous Kiln migrated (its tables and columns in public),
  // with rows it wrote: see test/fixtures/README.md.
  for (const [fixture, what] of [
    ['legacy-kiln-own.sql', 'where Kiln had created the app tables itself'],
    ['legacy-kiln-prisma.sql', 'where Kiln had added its columns to the tables Prisma made'],
  ] as const) {
    it(`move Kiln's tables and values out of public and give the app's tables back Prisma's shape, ${what}`, async () => {
      const url = await freshDatabase(`kiln_test_migrations_legacy_${worker}`);
      await loadSqlFile(url, path.join(__dirname, 'fixtures', fixture));
      const jobsBefore = await query(url, 'SELECT id, kind, status, "backupId" FROM public.kiln_jobs ORDER BY id');
      const ds = await migrated(url);
      try {
        expect(await publicCatalog(url)).toEqual(reference);
        expect(await tablesIn(url, 'kiln')).toEqual(KILN_TABLES);
        expect((await query(url, 'SELECT count(*)::int AS n FROM kiln.migrations'))[0].n).toBe(migrations.length);
        expect(await query(url, 'SELECT id, kind, status, "backupId" FROM kiln.kiln_jobs ORDER BY id')).toEqual(jobsBefore);

        // The app's row in the app's values; Kiln's facts (the exact size above INT4 among them) beside it.
        const records = await query(url, `SELECT id, filename, "fileSize", location, type, status, "recordCounts", "createdBy", "localPath" FROM public.backup_records ORDER BY id`);
        const kiln1 = records.find((r) => r.id === 'kiln-1')!;
        const big = fixture === 'legacy-kiln-own.sql';
        expect(kiln1).toMatchObject({ status: 'completed', type: 'manual', location: 'both', createdBy: 'u-admin', fileSize: big ? 2147483647 : 3000000 });
        expect(kiln1.recordCounts).toEqual({ users: 3, loans: 5 });
        expect(records.find((r) => r.id === 'kiln-2')).toMatchObject({ status: 'failed', type: 'manual', location: 'local' });
        const details = await query(url, `SELECT id, origin, kind, "fileSize"::text AS size, checksum, "cloudPublicId", "jobId" FROM kiln.kiln_backup_details ORDER BY id`);
        expect(details).toEqual([
          {
            id: 'kiln-1',
            origin: 'KILN',
            kind: 'MANUAL',
            size: big ? '3000000000' : '3000000',
            checksum: 'a'.repeat(64),
            cloudPublicId: 'kiln-backups/kiln-backup-2026-02-01T10-00-00-000Z-kiln-1.json.gz',
            jobId: 'job-1',
          },
          { id: 'kiln-2', origin: 'KILN', kind: 'PRE_RESTORE', size: '0', checksum: null, cloudPublicId: null, jobId: 'job-2' },
        ]);
        if (!big) {
          // The app's own row was never Kiln's: untouched, no Kiln facts made up for it.
          expect(records.find((r) => r.id === 'app-1')).toMatchObject({ status: 'completed', type: 'scheduled', location: 'local', fileSize: 5120 });
        }

        const [schedule] = await query(url, `SELECT frequency, location, "retentionDays" FROM public.backup_schedule_settings`);
        expect(schedule).toEqual({ frequency: 'custom', location: 'local', retentionDays: 21 });
        const [additions] = await query(url, `SELECT cron, timezone, "keepAtLeast" FROM kiln.kiln_schedule_settings`);
        expect(additions).toEqual({ cron: '0 */6 * * *', timezone: 'Africa/Lagos', keepAtLeast: 5 });

        // And the running gateway reads them back as they were.
        const [row] = await ds.query(`SELECT count(*)::int AS n FROM backup_records r JOIN kiln_backup_details d ON d.id = r.id`);
        expect(row.n).toBe(2);
      } finally {
        await ds.destroy();
      }
    });
  }
});
