import path from 'node:path';
import { readFileSync } from 'node:fs';
import { errorCode, gql, loginToken } from './support/test-kiln';
import { finishedJob, parseBackupFile, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { craftBackup, fingerprint, RESTORE, tableShape, uploadRestore } from './support/restore-helpers';


let s: SeededKiln;
let backup: { id: string; filename: string };
let atBackup: Record<string, string>;

async function maintenance(on: boolean) {
  const res = await gql(s.kiln.url, 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on) { enabled } }', { on }, s.token);
  expect(res.errors).toBeUndefined();
}

async function restoreJob(res: { data?: any; errors?: any }) {
  expect(res.errors).toBeUndefined();
  const id = res.data!.restoreBackup.id;
  await s.kiln.services.jobs.settled(id);
  // Read straight from the job row: the restore logged everybody out (see relogin).
  return (await s.kiln.services.jobs.get(id))!;
}

async function relogin() {
  s.token = await loginToken(s.kiln.url);
}

beforeAll(async () => {
  s = await startSeededKiln(120);
  backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  atBackup = await fingerprint(s.db);
});
afterAll(async () => s?.close());

it('refuses outside maintenance mode, and without exactly one of id and file', async () => {
  expect(errorCode(await gql(s.kiln.url, RESTORE, { id: backup.id }, s.token))).toBe('MAINTENANCE_REQUIRED');
  await maintenance(true);
  expect(errorCode(await gql(s.kiln.url, RESTORE, {}, s.token))).toBe('BAD_USER_INPUT');
  expect(errorCode(await gql(s.kiln.url, RESTORE, { id: 'nope' }, s.token))).toBe('NOT_FOUND');
  expect(errorCode(await gql(s.kiln.url, RESTORE, { id: backup.id }))).toBe('UNAUTHENTICATED');
  await maintenance(false);
});

it('restores a stored backup exactly, after a safety backup, logging everybody out', async () => {
  // The app changes things after the backup: a loan edited, allocations gone, a new member.
  const changedLoan = (await s.db.query(`UPDATE "Loan" SET notes = 'changed' WHERE id = (SELECT id FROM "Loan" LIMIT 1) RETURNING id`)).rows[0].id;
  await s.db.query(`DELETE FROM "RepaymentAllocation" WHERE id IN (SELECT id FROM "RepaymentAllocation" LIMIT 5)`);
  const unionId = (await s.db.query(`SELECT id FROM "Union" LIMIT 1`)).rows[0].id;
  await s.db.query(`INSERT INTO "UnionMember" (id, "firstName", "lastName", "unionId", "updatedAt") VALUES ('late-member', 'Late', 'Comer', $1, now())`, [unionId]);
  const later = (await finishedJob(s, (await startBackup(s)).jobId)).backup; // a newer backup must survive
  const auditBefore = Number((await s.db.query(`SELECT count(*) FROM "AuditLog"`)).rows[0].count);
  const oldToken = s.token;
  const shape = await tableShape(s.db);

  await maintenance(true);
  const job = await restoreJob(await gql(s.kiln.url, RESTORE, { id: backup.id }, s.token));
  expect(job).toMatchObject({ status: 'COMPLETED', percent: 100, error: null });
  expect(job.message).toMatch(/^Restored \d+ rows into 17 tables/);

  const now = await fingerprint(s.db);
  for (const [table, print] of Object.entries(atBackup)) {
    if (table === 'AuditLog' || table === 'StaffSession') continue; // not in this backup: kept, see below
    expect([table, now[table]]).toEqual([table, print]);
  }
  expect((await s.db.query(`SELECT notes FROM "Loan" WHERE id = $1`, [changedLoan])).rows[0].notes).not.toBe('changed');
  // Keys and indexes were dropped and built again inside the transaction: the tables' shape is as it was.
  expect(await tableShape(s.db)).toEqual(shape);
  await relogin();

  // Audit logs were not in the backup: kept (plus the restore's own entry), never emptied.
  const audit = await s.db.query(`SELECT action, metadata FROM "AuditLog" ORDER BY "createdAt" DESC LIMIT 1`);
  expect(Number((await s.db.query(`SELECT count(*) FROM "AuditLog"`)).rows[0].count)).toBeGreaterThanOrEqual(auditBefore + 1);
  expect(audit.rows[0].action).toBe('SYSTEM_RESTORED');
  expect(audit.rows[0].metadata).toMatchObject({ checksum: expect.any(String), recordCounts: expect.any(Object) });

  // Everybody is logged out; maintenance stays on; Kiln's own records are untouched.
  expect((await gql(s.kiln.url, '{ me { id } }', {}, oldToken)).errors![0].extensions!.reason).toBe('SESSION_REVOKED');
  expect((await gql(s.kiln.url, '{ maintenanceMode { enabled } }', {}, s.token)).data).toEqual({ maintenanceMode: { enabled: true } });
  const kinds = (await gql(s.kiln.url, '{ backups { items { id type status } } }', {}, s.token)).data!.backups.items;
  expect(kinds.map((b: { id: string }) => b.id)).toEqual(expect.arrayContaining([backup.id, later.id]));
  expect(kinds.find((b: { type: string }) => b.type === 'PRE_RESTORE')).toMatchObject({ status: 'COMPLETED' });
  await maintenance(false);
});

it('removes only the sessions whose user the backup lacks, and says how many', async () => {
  await s.db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ('new-user', 'new@kiln.test', 'x', 'CREDIT_OFFICER', now())`);
  await s.db.query(`INSERT INTO "StaffSession" (id, "userId", "jwtId", "expiresAt") VALUES ('s-new', 'new-user', 'j-new', now() + interval '1 hour')`);
  await s.db.query(`INSERT INTO "AuditLog" (id, "actorUserId", action, "entityName", "entityId") VALUES ('a-new', 'new-user', 'X', 'Y', 'Z')`);
  const sessionsBefore = Number((await s.db.query(`SELECT count(*) FROM "StaffSession"`)).rows[0].count);
  await maintenance(true);
  const job = await restoreJob(await gql(s.kiln.url, RESTORE, { id: backup.id }, s.token));
  expect(job.status).toBe('COMPLETED');
  expect(job.message).toContain('removed 1 StaffSession rows');
  await relogin();
  expect((await s.db.query(`SELECT count(*) FROM "User" WHERE id = 'new-user'`)).rows[0].count).toBe('0');
  // Only that session went (the new login's came after the restore).
  expect(Number((await s.db.query(`SELECT count(*) FROM "StaffSession"`)).rows[0].count)).toBe(sessionsBefore - 1 + 1);
  // The audit entry stays, its actor link cleared.
  expect((await s.db.query(`SELECT "actorUserId" FROM "AuditLog" WHERE id = 'a-new'`)).rows).toEqual([{ actorUserId: null }]);
  await maintenance(false);
});

it('restores from an uploaded file', async () => {
  await s.db.query(`UPDATE "Loan" SET notes = 'edited again' WHERE id = (SELECT id FROM "Loan" LIMIT 1)`);
  await maintenance(true);
  const file = readFileSync(path.join(s.kiln.backupDir, backup.filename));
  const res = await uploadRestore(s.kiln.url, s.token, file);
  expect(res.status).toBe(200);
  const job = await restoreJob(res.body);
  expect(job.status).toBe('COMPLETED');
  expect(job.message).toContain('uploaded file backup.json');
  await relogin();
  const now = await fingerprint(s.db, ['Loan', 'Repayment', 'RepaymentAllocation']);
  expect(now).toEqual({ Loan: atBackup.Loan, Repayment: atBackup.Repayment, RepaymentAllocation: atBackup.RepaymentAllocation });
  await maintenance(false);
});

it('guards uploads before reading them: preflight header and an admin token', async () => {
  const noPreflight = await uploadRestore(s.kiln.url, s.token, Buffer.from('x'), {});
  expect(noPreflight.status).toBe(400);
  const anonymous = await uploadRestore(s.kiln.url, undefined, Buffer.from('x'));
  expect(anonymous.status).toBe(401);
  expect(anonymous.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
});

it('gives back JSON columns that hold plain values (a string, true, a string of JSON) as they were', async () => {
  await s.db.query(`UPDATE "ReportSession" SET "reportData" = '"a plain string"', "officerMetrics" = 'true' WHERE id = (SELECT id FROM "ReportSession" ORDER BY id LIMIT 1)`);
  await s.db.query(`UPDATE "ReportSession" SET "reportData" = '"{}"', "officerMetrics" = '42' WHERE id = (SELECT id FROM "ReportSession" ORDER BY id OFFSET 1 LIMIT 1)`);
  const values = async () =>
    (await s.db.query(`SELECT id, "reportData", "officerMetrics", jsonb_typeof("reportData") AS t FROM "ReportSession" ORDER BY id LIMIT 2`)).rows;
  const before = await values();
  expect(before.map((r) => r.t)).toEqual(['string', 'string']);
  const scalars = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  await s.db.query(`UPDATE "ReportSession" SET "reportData" = '{}', "officerMetrics" = NULL`);

  await maintenance(true);
  const job = await restoreJob(await gql(s.kiln.url, RESTORE, { id: scalars.id }, s.token));
  await relogin();
  await maintenance(false);
  expect([job.status, job.error]).toEqual(['COMPLETED', null]);
  expect(await values()).toEqual(before);
});

it('names the login accounts a restore adds, re-enables or makes ADMIN, in its job message and audit entry', async () => {
  const doc = parseBackupFile(path.join(s.kiln.backupDir, backup.filename));
  const staff = doc.data.User.filter((u: any) => u.role !== 'ADMIN');
  const [promoted, disabledNow] = [staff[0], staff[1]];
  const file = await craftBackup(doc, (data) => {
    data.User.push({ ...staff[2], id: 'forged-admin', email: 'forged@kiln.test', role: 'ADMIN' });
    data.User.find((u: any) => u.id === promoted.id).role = 'ADMIN';
  });
  // Disabled since the backup: the restore brings it back.
  await s.db.query(`UPDATE "User" SET "isActive" = false WHERE id = $1`, [disabledNow.id]);

  await maintenance(true);
  const res = await uploadRestore(s.kiln.url, s.token, file);
  expect(res.body.errors).toBeUndefined();
  await s.kiln.services.jobs.settled(res.body.data.restoreBackup.id);
  const job = (await s.kiln.services.jobs.get(res.body.data.restoreBackup.id))!;
  await relogin();
  await maintenance(false);
  expect(job.status).toBe('COMPLETED');
  expect(job.message).toContain(
    `login accounts added 1 (forged@kiln.test ADMIN); re-enabled 1 (${disabledNow.email} ${disabledNow.role}); made ADMIN 1 (${promoted.email} ADMIN)`,
  );
  const [entry] = (await s.db.query(`SELECT metadata FROM "AuditLog" WHERE action = 'SYSTEM_RESTORED' AND metadata->>'jobId' = $1`, [job.id])).rows;
  expect(entry.metadata.accounts).toEqual({
    added: [{ email: 'forged@kiln.test', role: 'ADMIN' }],
    removed: [],
    reenabled: [{ email: disabledNow.email, role: disabledNow.role }],
    madeAdmin: [{ email: promoted.email, role: 'ADMIN' }],
  });
});
