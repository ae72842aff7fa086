import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createDataSource } from '../src/db/data-source';
import { migrateDatabase } from '../src/db/migrate';
import { LENDING_TABLES } from '../src/domain';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { freshDatabase } from './support/test-database';
import { TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET } from './support/test-kiln';

const run = promisify(execFile);
const worker = process.env.JEST_WORKER_ID ?? '1';

async function migratedDatabase(name: string): Promise<string> {
  const url = await freshDatabase(name);
  const ds = createDataSource(url, 2);
  await ds.initialize();
  await migrateDatabase(ds, 'kiln');
  await ds.destroy();
  return url;
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** md5 of every table's rows in id order (password hashes aside: their salt is random). */
function fingerprint(c: Client): Promise<Record<string, string>> {
  return (async () => {
    const out: Record<string, string> = {};
    for (const t of LENDING_TABLES) {
      const expr = t === 'User' ? `(to_jsonb(x) - 'passwordHash')::text` : 'x::text';
      const { rows } = await c.query(`SELECT md5(string_agg(${expr}, ',' ORDER BY id)) AS h FROM "${t}" x`);
      out[t] = rows[0].h;
    }
    return out;
  })();
}

describe('demo data', () => {
  it('fills every lending table with consistent data, the same for the same seed', async () => {
    const a = await migratedDatabase(`kiln_test_seed_a_${worker}`);
    const b = await migratedDatabase(`kiln_test_seed_b_${worker}`);
    const report = await withClient(a, (c) => seedDemoData(c, { members: 300, seed: 7 }));
    await withClient(b, (c) => seedDemoData(c, { members: 300, seed: 7 }));

    expect(Object.keys(report.rowsByTable).sort()).toEqual([...LENDING_TABLES].sort());
    for (const t of LENDING_TABLES) expect(report.rowsByTable[t]).toBeGreaterThan(0);
    expect(report.totalRows / 300).toBeGreaterThan(20);
    expect(report.totalRows / 300).toBeLessThan(40);

    await withClient(a, async (c) => {
      for (const t of LENDING_TABLES) {
        const { rows } = await c.query(`SELECT count(*)::int AS n FROM "${t}"`);
        expect(rows[0].n).toBe(report.rowsByTable[t]);
      }
      const unbalanced = await c.query(`
        SELECT r.id FROM "Repayment" r LEFT JOIN "RepaymentAllocation" a ON a."repaymentId" = r.id
        GROUP BY r.id, r.amount HAVING coalesce(sum(a.amount), 0) <> r.amount`);
      expect(unbalanced.rows).toEqual([]);
      const itemMismatch = await c.query(`
        SELECT s.id FROM "RepaymentScheduleItem" s LEFT JOIN "RepaymentAllocation" a ON a."scheduleItemId" = s.id
        GROUP BY s.id, s."paidAmount" HAVING coalesce(sum(a.amount), 0) <> s."paidAmount"`);
      expect(itemMismatch.rows).toEqual([]);
      const totals = await c.query(`SELECT count(*)::int AS n FROM "RepaymentScheduleItem" WHERE "principalDue" + "interestDue" + "feeDue" <> "totalDue"`);
      expect(totals.rows[0].n).toBe(0);
      const statuses = await c.query(`SELECT count(DISTINCT status)::int AS n FROM "Loan"`);
      expect(statuses.rows[0].n).toBeGreaterThanOrEqual(6);
    });

    const [fa, fb] = await Promise.all([withClient(a, fingerprint), withClient(b, fingerprint)]);
    expect(fa).toEqual(fb);
  });

  it('npm run seed works after the gateway made its admin, and refuses a database that holds lending data', async () => {
    const url = await migratedDatabase(`kiln_test_seed_cli_${worker}`);
    // What a first `npm start` leaves behind: its admin and a login.
    await withClient(url, async (c) => {
      await c.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ('boot', 'admin@kiln.local', 'x', 'ADMIN', now())`);
      await c.query(`INSERT INTO "UserLoginHistory" (id, "userId") VALUES ('h1', 'boot')`);
    });
    const cli = path.resolve(__dirname, '../dist/src/seed/seed.cli.js');
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: url, JWT_SECRET: TEST_JWT_SECRET, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY, LOG_LEVEL: 'info' };
    const first = await run(process.execPath, [cli, '--members', '40', '--seed', '3'], { env });
    const done = JSON.parse(first.stdout.trim().split('\n').pop()!);
    expect(done).toMatchObject({ msg: 'demo data seeded', members: 40, seed: 3 });
    await expect(run(process.execPath, [cli, '--members', '40'], { env })).rejects.toMatchObject({
      stderr: expect.stringContaining('already hold data'),
    });
    await expect(run(process.execPath, [cli, '--members', 'lots'], { env })).rejects.toMatchObject({
      stderr: expect.stringContaining('--members must be'),
    });
  });
});
