import { LENDING_TABLES } from '../src/domain';
import { errorCode, gql, loginToken } from './support/test-kiln';
import { startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { fingerprint } from './support/restore-helpers';

const RESET = 'mutation($c: String!, $p: String) { resetSystem(confirmation: $c, superAdminPassword: $p) { superAdminEmail temporaryPassword job { id kind status } } }';

// A gateway on seeded data of its own for each test: a reset empties the data and logs everybody out.
let s: SeededKiln;
beforeEach(async () => {
  s = await startSeededKiln(60, { SUPERADMIN_EMAIL: 'chief@kiln.test' });
});
afterEach(async () => s?.close());

async function counts() {
  const out: Record<string, number> = {};
  for (const t of LENDING_TABLES) out[t] = Number((await s.db.query(`SELECT count(*) FROM "${t}"`)).rows[0].count);
  return out;
}

it('refuses without the exact confirmation or with a weak password, changing nothing', async () => {
  const before = await fingerprint(s.db);
  for (const c of ['delete', 'DELETE ', '', 'yes']) {
    expect(errorCode(await gql(s.kiln.url, RESET, { c }, s.token))).toBe('BAD_USER_INPUT');
  }
  const weak = (await gql(s.kiln.url, RESET, { c: 'DELETE', p: 'short' }, s.token)).errors![0];
  // The field and the rule in the words the service used before class-validator took the check over.
  expect(weak.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'superAdminPassword' });
  expect(weak.message).toContain('superAdminPassword must be 12 to 256 characters');
  expect(errorCode(await gql(s.kiln.url, RESET, { c: 'DELETE' }))).toBe('UNAUTHENTICATED');
  expect(await fingerprint(s.db)).toEqual(before);
});

it('refuses while another job runs', async () => {
  const running = await whileTableLocked(s, async () => {
    const job = await startBackup(s);
    expect(errorCode(await gql(s.kiln.url, RESET, { c: 'DELETE' }, s.token))).toBe('CONFLICT');
    return job;
  });
  await s.kiln.services.jobs.settled(running.jobId);
});

it('backs up, empties the lending data, leaves a super admin and company defaults, and logs everybody out', async () => {
  const recordsBefore = Number((await s.db.query('SELECT count(*) FROM backup_records')).rows[0].count);
  const oldToken = s.token;
  const res = await gql(s.kiln.url, RESET, { c: 'DELETE', p: 'a-brand-new-chief-password' }, s.token);
  expect(res.errors).toBeUndefined();
  expect(res.data!.resetSystem).toMatchObject({ superAdminEmail: 'chief@kiln.test', temporaryPassword: null, job: { kind: 'RESET' } });
  const jobId = res.data!.resetSystem.job.id;
  await s.kiln.services.jobs.settled(jobId);
  const job = (await s.kiln.services.jobs.get(jobId))!;
  expect(job.status).toBe('COMPLETED');

  const after = await counts();
  for (const t of LENDING_TABLES) {
    const expected = t === 'User' || t === 'CompanySetting' || t === 'AuditLog' ? 1 : 0;
    expect([t, after[t]]).toEqual([t, expected]);
  }
  expect((await s.db.query(`SELECT email, role, "isActive" FROM "User"`)).rows).toEqual([{ email: 'chief@kiln.test', role: 'ADMIN', isActive: true }]);
  expect((await s.db.query(`SELECT currency, "currencySymbol", "dateFormat", "timeFormat", timezone FROM "CompanySetting"`)).rows).toEqual([
    { currency: 'NGN', currencySymbol: '₦', dateFormat: 'DD/MM/YYYY', timeFormat: '24h', timezone: 'Africa/Lagos' },
  ]);
  expect((await s.db.query(`SELECT action FROM "AuditLog"`)).rows).toEqual([{ action: 'SYSTEM_RESET' }]);

  // Backup records survive, with the safety backup the job points at.
  expect(Number((await s.db.query('SELECT count(*) FROM backup_records')).rows[0].count)).toBe(recordsBefore + 1);
  // In the app's conventions: a safety copy is `manual` to the app; Kiln keeps its kind beside it.
  const safety = (await s.db.query(`SELECT r.type, r.status, r."recordCounts", d.kind FROM backup_records r JOIN kiln_backup_details d ON d.id = r.id WHERE r.id = $1`, [job.backupId])).rows[0];
  expect(safety).toMatchObject({ type: 'manual', status: 'completed', kind: 'PRE_RESET' });
  expect(safety.recordCounts.loans).toBeGreaterThan(0);

  expect(errorCode(await gql(s.kiln.url, '{ me { id } }', {}, oldToken))).toBe('UNAUTHENTICATED');
  s.token = await loginToken(s.kiln.url, 'chief@kiln.test', 'a-brand-new-chief-password');
  expect((await gql(s.kiln.url, '{ me { email } }', {}, s.token)).data).toEqual({ me: { email: 'chief@kiln.test' } });
});

it('without a password returns a temporary one, once, that works', async () => {
  const res = await gql(s.kiln.url, RESET, { c: 'DELETE' }, s.token);
  const { temporaryPassword, job } = res.data!.resetSystem;
  expect(temporaryPassword).toMatch(/^[\w-]{20,}$/);
  await s.kiln.services.jobs.settled(job.id);
  expect((await s.kiln.services.jobs.get(job.id))!.status).toBe('COMPLETED');
  const stored = (await s.db.query(`SELECT "passwordHash" FROM "User"`)).rows[0].passwordHash;
  expect(stored).not.toContain(temporaryPassword);
  s.token = await loginToken(s.kiln.url, 'chief@kiln.test', temporaryPassword);
  const protectedAdmin = await gql(s.kiln.url, `query($id: ID!) { deletionDependencies(entityType: USER, entityId: $id) { canDelete dependencies { type } } }`, {
    id: (await s.db.query(`SELECT id FROM "User"`)).rows[0].id,
  }, s.token);
  expect(protectedAdmin.data!.deletionDependencies.canDelete).toBe(false);
});
