import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../src/db/data-source';
import { LENDING_TABLES } from '../src/domain';
import { freshDatabase } from './support/test-database';

async function catalog(db: Client) {
  const q = async (sql: string) => (await db.query(sql)).rows.map((r) => Object.values(r).join(' ')).sort();
  return {
    tables: await q(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`),
    columns: await q(`SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'`),
    indexes: await q(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`),
    constraints: await q(`SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace`),
    types: await q(`SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`),
  };
}

describe('migrations', () => {
  let url: string;
  let ds: DataSource;
  let db: Client;

  beforeAll(async () => {
    url = await freshDatabase('kiln_test_migrations_' + (process.env.JEST_WORKER_ID ?? '1'));
    ds = createDataSource(url, 2);
    await ds.initialize();
    db = new Client({ connectionString: url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await ds?.destroy();
  });

  it('create the 19 lending tables, 6 enums and the names Prisma gives', async () => {
    await ds.runMigrations();
    const c = await catalog(db);
    for (const table of LENDING_TABLES) expect(c.tables).toContain(table);
    expect(LENDING_TABLES).toHaveLength(19);
    expect(c.types).toEqual([
      'LoanStatus DRAFT,PENDING_APPROVAL,APPROVED,ACTIVE,COMPLETED,DEFAULTED,WRITTEN_OFF,CANCELED',
      'RepaymentMethod CASH,TRANSFER,POS,MOBILE,USSD,OTHER',
      'ReportType DAILY,WEEKLY,MONTHLY,QUARTERLY,CUSTOM',
      'Role ADMIN,SUPERVISOR,CREDIT_OFFICER',
      'ScheduleStatus PENDING,PARTIAL,PAID,OVERDUE',
      'TermUnit DAY,WEEK,MONTH',
    ]);
    expect(c.indexes.some((i) => i.startsWith('User_email_key CREATE UNIQUE INDEX'))).toBe(true);
    expect(c.indexes.some((i) => i.startsWith('RepaymentScheduleItem_loanId_sequence_key CREATE UNIQUE INDEX'))).toBe(true);
    expect(c.constraints).toContain('Loan_unionMemberId_fkey FOREIGN KEY ("unionMemberId") REFERENCES "UnionMember"(id) ON UPDATE CASCADE ON DELETE RESTRICT');
    expect(c.constraints).toContain('User_supervisorId_fkey FOREIGN KEY ("supervisorId") REFERENCES "User"(id) ON UPDATE CASCADE ON DELETE SET NULL');
    expect(c.columns).toContain('Loan principalAmount numeric NO ');
    expect(c.columns).toContain('AuditLog before jsonb YES ');
    expect(c.columns).toContain('Loan createdAt timestamp without time zone NO CURRENT_TIMESTAMP');
  });

  it('are idempotent: running them again over the same schema changes nothing', async () => {
    const before = await catalog(db);
    await db.query('DELETE FROM migrations');
    await ds.runMigrations();
    expect(await catalog(db)).toEqual(before);
  });

  it('leave no difference between the entities and the schema (but for now() = CURRENT_TIMESTAMP)', async () => {
    const sql = await ds.driver.createSchemaBuilder().log();
    const queries = sql.upQueries.map((q) => q.query).filter((q) => !/SET DEFAULT now\(\)/.test(q));
    // Indexes over those timestamp columns are rebuilt only because of that default.
    const rebuilt = queries.filter((q) => /^CREATE INDEX .*"(changedAt|createdAt)"/.test(q)).map((q) => /INDEX "([^"]+)"/.exec(q)![1]);
    const real = queries.filter((q) => !rebuilt.some((name) => q.includes(`"${name}"`)));
    expect(real).toEqual([]);
  });

  it('revert cleanly when Kiln created the schema', async () => {
    while ((await ds.query('SELECT count(*)::int AS n FROM migrations'))[0].n > 0) await ds.undoLastMigration();
    const c = await catalog(db);
    expect(c.tables).toEqual(['migrations']);
    expect(c.types).toEqual([]);
  });

  it('never drop a lending schema that Prisma created, even when reverted', async () => {
    // Prisma's database: the lending schema exists before Kiln first runs.
    await ds.runMigrations();
    await db.query(`DELETE FROM kiln_meta`);
    await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ('u1', 'a@b.c', 'x', 'ADMIN', now())`);
    const before = await catalog(db);
    await db.query('DELETE FROM migrations');
    await ds.runMigrations();
    while ((await ds.query('SELECT count(*)::int AS n FROM migrations'))[0].n > 0) await ds.undoLastMigration();
    const after = await catalog(db);
    for (const table of LENDING_TABLES) expect(after.tables).toContain(table);
    expect(after.indexes.filter((i) => !i.startsWith('kiln_'))).toEqual(before.indexes.filter((i) => !i.startsWith('kiln_')));
    expect((await db.query('SELECT email FROM "User"')).rows).toEqual([{ email: 'a@b.c' }]);
  });
});
