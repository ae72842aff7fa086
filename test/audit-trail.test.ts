/**
 * The audit trail through Kiln: `auditLog` over Kiln's own entries (filters, paging, order,
 * admins only), every admin action in the audit table and the log, and the dangerous mutations a
 * signed-in caller was refused (GraphQL and upload alike); anonymous refusals write nothing.
 */
import { Client } from 'pg';
import { newId } from '../src/db/ids';
import { uploadRestore } from './support/restore-helpers';
import { errorCode, gql, loginToken, staffToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';
import { until } from './support/until';
import { whileTableLocked } from './support/seeded-kiln';

const AUDIT = `query($filter: AuditLogFilter, $limit: Int, $offset: Int) {
  auditLog(filter: $filter, limit: $limit, offset: $offset) { total items { id action entityName entityId actorUserId actorEmail before after metadata userAgent createdAt } } }`;
const MAINTENANCE = 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on, reason: "audit test") { enabled } }';

let kiln: TestKiln;
let db: Client;
let token: string;
const logs: Array<Record<string, any>> = [];
beforeAll(async () => {
  kiln = await startTestKiln({}, undefined, logs);
  db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  token = await loginToken(kiln.url);
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

const audit = async (variables: Record<string, unknown> = {}, as = token) => gql(kiln.url, AUDIT, variables, as);
const entries = async (filter: Record<string, unknown>) => (await audit({ filter })).data!.auditLog.items as any[];

it('lists maintenance and schedule changes newest first, with who did them, and logs each', async () => {
  const since = new Date();
  await gql(kiln.url, MAINTENANCE, { on: true }, token);
  await gql(kiln.url, MAINTENANCE, { on: false }, token);
  await gql(kiln.url, 'mutation { updateBackupSchedule(input: { retentionDays: 12 }) { retentionDays } }', {}, token);
  const items = await entries({ from: since.toISOString() });
  expect(items.map((e) => e.action)).toEqual(['SCHEDULE_UPDATED', 'MAINTENANCE_DISABLED', 'MAINTENANCE_ENABLED']);
  expect(items[0]).toMatchObject({ entityName: 'BackupSchedule', actorEmail: TEST_ADMIN.email, metadata: { source: 'kiln' } });
  expect(items[0].after).toMatchObject({ retentionDays: 12 });
  expect(items[2].after).toEqual({ enabled: true, reason: 'audit test' });
  for (const action of ['MAINTENANCE_ENABLED', 'MAINTENANCE_DISABLED', 'SCHEDULE_UPDATED']) {
    expect(logs).toContainEqual(expect.objectContaining({ event: 'audit', action, actorUserId: items[0].actorUserId }));
  }
});

it('filters by action, actor (email in any case, or id) and time, and pages with a total', async () => {
  // Entries of the app itself are not Kiln's: never listed.
  await db.query(`INSERT INTO "AuditLog" (id, action, "entityName", "entityId", metadata) VALUES ($1, 'LOAN_CREATED', 'Loan', 'l1', '{"source":"app"}')`, [newId()]);
  for (const on of [true, false, true, false]) await gql(kiln.url, MAINTENANCE, { on }, token);
  const enabled = await audit({ filter: { action: 'MAINTENANCE_ENABLED' }, limit: 1 });
  expect(enabled.data!.auditLog.items).toHaveLength(1);
  const all = (await audit({ filter: { action: 'MAINTENANCE_ENABLED' }, limit: 100 })).data!.auditLog;
  expect(all.total).toBe(enabled.data!.auditLog.total);
  expect(all.items.every((e: any) => e.action === 'MAINTENANCE_ENABLED')).toBe(true);
  // Pages follow one another without gaps or repeats.
  const second = (await audit({ filter: { action: 'MAINTENANCE_ENABLED' }, limit: 1, offset: 1 })).data!.auditLog.items;
  expect([enabled.data!.auditLog.items[0].id, second[0].id]).toEqual(all.items.slice(0, 2).map((e: any) => e.id));

  const byEmail = await entries({ actor: TEST_ADMIN.email.toUpperCase() });
  expect(byEmail.length).toBeGreaterThan(0);
  expect(await entries({ actor: byEmail[0].actorUserId })).toEqual(byEmail);
  expect(await entries({ actor: 'nobody@kiln.test' })).toEqual([]);
  expect((await entries({ action: 'LOAN_CREATED' })).length).toBe(0);

  const newest = new Date(all.items[0].createdAt);
  expect(await entries({ action: 'MAINTENANCE_ENABLED', from: new Date(newest.getTime() + 1).toISOString() })).toEqual([]);
  expect((await entries({ action: 'MAINTENANCE_ENABLED', to: newest.toISOString() })).map((e) => e.id)).toEqual(all.items.slice(1).map((e: any) => e.id));
});

it.each([
  ['a limit of 0', { limit: 0 }],
  ['a limit above 500', { limit: 501 }],
  ['a negative offset', { offset: -1 }],
  ['from after to', { filter: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }],
  ['a time that is no time', { filter: { from: 'yesterday' } }],
])('refuses %s as BAD_USER_INPUT', async (_what, variables) => {
  expect(errorCode(await audit(variables))).toBe('BAD_USER_INPUT');
});

it('is for admins only', async () => {
  expect(errorCode(await audit({}, ''))).toBe('UNAUTHENTICATED');
  const staff = await staffToken(kiln.databaseUrl, 'reader@kiln.test');
  expect(errorCode(await audit({}, staff.token))).toBe('FORBIDDEN');
});

describe('refused dangerous mutations', () => {
  it('writes down a restore refused without maintenance mode, asked under an alias, in the table and the log', async () => {
    await gql(kiln.url, MAINTENANCE, { on: false }, token);
    // Only this test's entries: the other tests write refusals of their own.
    const mine = { action: 'MUTATION_REFUSED', from: new Date().toISOString() };
    const res = await gql(kiln.url, 'mutation { again: restoreBackup(id: "no-such-backup") { id } also: restoreBackup(id: "x") { id } }', {}, token);
    expect(errorCode(res)).toBe('MAINTENANCE_REQUIRED');
    // Written in the background, once for the field however many aliases asked.
    await until('the refusal entry', () => entries(mine), (items) => items.length > 0, 10_000, 50);
    const [refused, ...more] = await entries(mine);
    expect(more).toEqual([]);
    expect(refused).toMatchObject({ entityName: 'Mutation', entityId: 'restoreBackup', actorEmail: TEST_ADMIN.email, metadata: { source: 'kiln', code: 'MAINTENANCE_REQUIRED' } });
    expect(logs).toContainEqual(expect.objectContaining({ event: 'audit', action: 'MUTATION_REFUSED', entityId: 'restoreBackup' }));
  });

  it('writes down a staff member trying an admin’s mutation, and an upload refused before it is read', async () => {
    await gql(kiln.url, MAINTENANCE, { on: false }, token);
    const staff = await staffToken(kiln.databaseUrl, 'officer@kiln.test');
    expect(errorCode(await gql(kiln.url, 'mutation { resetSystem(confirmation: "x") { superAdminEmail } }', {}, staff.token))).toBe('FORBIDDEN');
    const upload = await uploadRestore(kiln.url, token, Buffer.from('{}'));
    expect(upload.body.errors[0].extensions.code).toBe('MAINTENANCE_REQUIRED');
    const items = await until(
      'both refusals',
      () => entries({ action: 'MUTATION_REFUSED', from: new Date(Date.now() - 60_000).toISOString() }),
      (found) => found.some((e) => e.entityId === 'upload') && found.some((e) => e.entityId === 'resetSystem'),
      10_000,
      50,
    );
    const view = items.map((e) => [e.entityId, e.metadata.code, e.actorUserId === staff.userId]);
    expect(view).toContainEqual(['upload', 'MAINTENANCE_REQUIRED', false]);
    expect(view).toContainEqual(['resetSystem', 'FORBIDDEN', true]);
  });

  it('answers at once while a restore holds the audit table, and gives up the entry after a second', async () => {
    await whileTableLocked(
      kiln.databaseUrl,
      async () => {
        const staff = await staffToken(kiln.databaseUrl, 'locked-out@kiln.test');
        expect(errorCode(await gql(kiln.url, 'mutation { deleteBackup(id: "x") }', {}, staff.token))).toBe('FORBIDDEN');
        await until('the write to give up', async () => logs.find((l) => l.event === 'audit_failed' && l.entityId === 'deleteBackup'), (l) => l !== undefined, 10_000, 50);
      },
      'AuditLog',
    );
  });

  it('writes nothing for an anonymous caller, nor for what is no refusal', async () => {
    const before = (await audit({ filter: { action: 'MUTATION_REFUSED' } })).data!.auditLog.total;
    expect(errorCode(await gql(kiln.url, 'mutation { resetSystem(confirmation: "x") { superAdminEmail } }', {}))).toBe('UNAUTHENTICATED');
    await uploadRestore(kiln.url, undefined, Buffer.from('{}'));
    // A read is no mutation; a successful mutation is no refusal.
    await gql(kiln.url, '{ backup(id: "nope") { id } }', {}, token);
    await gql(kiln.url, MAINTENANCE, { on: false }, token);
    expect((await audit({ filter: { action: 'MUTATION_REFUSED' } })).data!.auditLog.total).toBe(before);
  });
});
