import { Client } from 'pg';
import { errorCode, gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';

const SET = 'mutation($on: Boolean!, $r: String) { setMaintenanceMode(enabled: $on, reason: $r) { enabled reason since enabledBy { email } } }';
const GET = '{ maintenanceMode { enabled reason since enabledBy { email } } }';

let kiln: TestKiln;
let token: string;
/** As the new gateway showed it, read before any test switched it. */
let initial: { graphql: unknown; public: unknown };

beforeAll(async () => {
  kiln = await startTestKiln();
  token = await loginToken(kiln.url);
  initial = { graphql: (await gql(kiln.url, GET, {}, token)).data!.maintenanceMode, public: await publicState() };
});
afterAll(async () => kiln?.close());
// Maintenance is one shared switch in the database: every test starts with it off, whatever the one before did.
afterEach(async () => {
  const off = await gql(kiln.url, SET, { on: false }, token);
  expect(off.errors).toBeUndefined();
});

async function publicState(): Promise<any> {
  const res = await fetch(`${kiln.url}/maintenance`);
  expect(res.status).toBe(200);
  return res.json();
}

it('starts disabled, for GraphQL and the public endpoint alike', () => {
  expect(initial.graphql).toEqual({ enabled: false, reason: null, since: null, enabledBy: null });
  expect(initial.public).toEqual({ enabled: false, reason: null, since: null });
});

it('turns on with a reason, names who did it, and writes an audit entry', async () => {
  const res = await gql(kiln.url, SET, { on: true, r: 'Restoring last night’s backup' }, token);
  expect(res.errors).toBeUndefined();
  const state = res.data!.setMaintenanceMode;
  expect(state).toMatchObject({ enabled: true, reason: 'Restoring last night’s backup', enabledBy: { email: 'root@kiln.test' } });
  expect(Math.abs(new Date(state.since).getTime() - Date.now())).toBeLessThan(10_000);
  expect(await publicState()).toEqual({ enabled: true, reason: 'Restoring last night’s backup', since: state.since });

  const db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  const audit = await db.query(`SELECT action, after FROM "AuditLog" WHERE "entityName" = 'Maintenance' ORDER BY "createdAt" DESC LIMIT 1`);
  await db.end();
  expect(audit.rows[0]).toEqual({ action: 'MAINTENANCE_ENABLED', after: { enabled: true, reason: 'Restoring last night’s backup' } });
});

it('keeps `since` when turned on again, and clears everything when turned off', async () => {
  expect((await gql(kiln.url, SET, { on: true, r: 'restoring' }, token)).errors).toBeUndefined();
  const first = (await gql(kiln.url, GET, {}, token)).data!.maintenanceMode;
  const again = (await gql(kiln.url, SET, { on: true, r: 'still restoring' }, token)).data!.setMaintenanceMode;
  expect(again.since).toBe(first.since);
  expect(again.reason).toBe('still restoring');
  const off = (await gql(kiln.url, SET, { on: false, r: 'ignored' }, token)).data!.setMaintenanceMode;
  expect(off).toEqual({ enabled: false, reason: null, since: null, enabledBy: null });
  expect((await publicState()).enabled).toBe(false);
});

it('refuses an overlong reason with BAD_USER_INPUT and leaves the state alone', async () => {
  const res = await gql(kiln.url, SET, { on: true, r: 'x'.repeat(501) }, token);
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
  expect((await publicState()).enabled).toBe(false);
});

it('refuses a wrongly typed argument with a GraphQL validation error', async () => {
  const res = await gql(kiln.url, SET, { on: 'yes' }, token);
  expect(errorCode(res)).toBe('BAD_USER_INPUT');
});

it('is admin-only over GraphQL', async () => {
  expect(errorCode(await gql(kiln.url, GET))).toBe('UNAUTHENTICATED');
  expect(errorCode(await gql(kiln.url, SET, { on: true }))).toBe('UNAUTHENTICATED');
  expect((await publicState()).enabled).toBe(false);
});

it('is seen by a second instance on the same database at once', async () => {
  const other = await startTestKiln({}, kiln.databaseUrl);
  try {
    await gql(kiln.url, SET, { on: true, r: 'shared' }, token);
    const res = await fetch(`${other.url}/maintenance`);
    expect(await res.json()).toMatchObject({ enabled: true, reason: 'shared' });
    await gql(kiln.url, SET, { on: false }, token);
  } finally {
    await other.close();
  }
});
