/**
 * User field resolvers read their users through one DataLoader per request: a page of backups,
 * jobs or the maintenance state resolves every createdBy / requestedBy / enabledBy with one
 * query of "User", whatever the number of rows, and each row gets its own user.
 */
import { Client } from 'pg';
import { newId } from '../src/db/ids';
import { gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';

const N = 6;
let kiln: TestKiln;
let db: Client;
let token: string;
const users: Array<{ id: string; email: string }> = [];

beforeAll(async () => {
  kiln = await startTestKiln();
  db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  token = await loginToken(kiln.url);
  for (let i = 0; i < N; i++) {
    const user = { id: newId(), email: `staff-${i}@loader.test` };
    users.push(user);
    await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, $2, 'x', 'CREDIT_OFFICER', now())`, [user.id, user.email]);
    // One app backup and one finished job per user, each naming its user.
    await db.query(
      `INSERT INTO backup_records (id, filename, "fileSize", location, type, status, "createdBy", "createdAt")
       VALUES ($1, $2, 10, 'local', 'manual', 'failed', $3, now() - make_interval(mins => $4))`,
      [`loader-backup-${i}`, `loader-${i}.json`, user.id, i],
    );
    await db.query(
      `INSERT INTO kiln_jobs (id, kind, status, "requestedById", "createdAt", "finishedAt") VALUES ($1, 'VERIFY', 'COMPLETED', $2, LOCALTIMESTAMP, LOCALTIMESTAMP)`,
      [`loader-job-${i}`, user.id],
    );
  }
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

/** Runs `query` and counts the SELECTs of "User" the gateway's data source sent meanwhile. */
async function userQueriesOf(query: string): Promise<{ data: Record<string, any>; userQueries: number }> {
  const sent: string[] = [];
  const spy = jest.spyOn(kiln.dataSource.logger, 'logQuery').mockImplementation((sql: string) => void sent.push(sql));
  try {
    const res = await gql(kiln.url, query, {}, token);
    expect(res.errors).toBeUndefined();
    return { data: res.data!, userQueries: sent.filter((sql) => /FROM "public"\."User"/.test(sql)).length };
  } finally {
    spy.mockRestore();
  }
}

const emailOf = (id: string | null) => users.find((u) => u.id === id)?.email;

it(`resolves the createdBy of ${N} backups with one query`, async () => {
  const { data, userQueries } = await userQueriesOf(`{ backups(limit: 50) { items { id createdBy { id email } } } }`);
  const ours = data.backups.items.filter((b: any) => b.id.startsWith('loader-backup-'));
  expect(ours).toHaveLength(N);
  for (const b of ours) expect(b.createdBy.email).toBe(`staff-${b.id.slice('loader-backup-'.length)}@loader.test`);
  expect(userQueries).toBe(1);
});

it(`resolves the requestedBy of ${N} jobs with one query`, async () => {
  const { data, userQueries } = await userQueriesOf(`{ jobs(limit: 50) { id requestedBy { id email } } }`);
  const ours = data.jobs.filter((j: any) => j.id.startsWith('loader-job-'));
  expect(ours).toHaveLength(N);
  for (const j of ours) expect(j.requestedBy.email).toBe(emailOf(j.requestedBy.id));
  expect(new Set(ours.map((j: any) => j.requestedBy.email))).toEqual(new Set(users.map((u) => u.email)));
  expect(userQueries).toBe(1);
});

it('reads a user shared by many rows once, and a user that is gone resolves to null', async () => {
  try {
    await db.query(`UPDATE backup_records SET "createdBy" = $1 WHERE id LIKE 'loader-backup-%'`, [users[1].id]);
    await db.query(`UPDATE backup_records SET "createdBy" = 'no-such-user' WHERE id = 'loader-backup-0'`);
    const { data, userQueries } = await userQueriesOf(`{ backups(limit: 50) { items { id createdBy { email } } } }`);
    const ours = data.backups.items.filter((b: any) => b.id.startsWith('loader-backup-'));
    expect(ours.find((b: any) => b.id === 'loader-backup-0').createdBy).toBeNull();
    expect(ours.filter((b: any) => b.createdBy?.email === users[1].email)).toHaveLength(N - 1);
    expect(userQueries).toBe(1);
  } finally {
    // Give each backup its own user back: the other tests expect loader-backup-i made by staff-i.
    for (let i = 0; i < N; i++) await db.query(`UPDATE backup_records SET "createdBy" = $1 WHERE id = $2`, [users[i].id, `loader-backup-${i}`]);
  }
});
