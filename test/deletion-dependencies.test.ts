import { Client } from 'pg';
import { DependencyEntity } from '../src/system/dependency-report.type';
import { DeletionDependenciesService } from '../src/system/deletion-dependencies.service';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';

const CHECK = `query($t: DependencyEntity!, $id: ID!) {
  deletionDependencies(entityType: $t, entityId: $id) { canDelete dependencies { type count message } suggestions }
}`;

let kiln: TestKiln;
let db: Client;
let token: string;
let rootId: string;

beforeAll(async () => {
  kiln = await startTestKiln();
  token = await loginToken(kiln.url);
  db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  rootId = (await db.query(`SELECT id FROM "User" WHERE email = $1`, [TEST_ADMIN.email])).rows[0].id;
  await insertFixtures();
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

async function check(entityType: string, entityId: string) {
  return gql(kiln.url, CHECK, { t: entityType, id: entityId }, token);
}

async function report(entityType: string, entityId: string) {
  const res = await check(entityType, entityId);
  expect(res.errors).toBeUndefined();
  return res.data!.deletionDependencies;
}

const noDependencies = { canDelete: true, dependencies: [], suggestions: [] };

async function addUser(id: string, role: string, extra: { supervisorId?: string; isActive?: boolean; deleted?: boolean } = {}) {
  await db.query(
    `INSERT INTO "User" (id, email, "passwordHash", role, "isActive", "supervisorId", "deletedAt", "updatedAt")
     VALUES ($1, $2, 'x', $3, $4, $5, $6, now())`,
    [id, `${id}@kiln.test`, role, extra.isActive ?? true, extra.supervisorId ?? null, extra.deleted ? new Date() : null],
  );
}

async function addUnion(id: string, creditOfficerId: string, deleted = false) {
  await db.query(`INSERT INTO "Union" (id, name, "creditOfficerId", "deletedAt", "updatedAt") VALUES ($1, $1, $2, $3, now())`, [
    id,
    creditOfficerId,
    deleted ? new Date() : null,
  ]);
}

async function addMember(id: string, unionId: string, currentOfficerId: string | null, deleted = false) {
  await db.query(
    `INSERT INTO "UnionMember" (id, "firstName", "lastName", "unionId", "currentOfficerId", "deletedAt", "updatedAt")
     VALUES ($1, 'Ada', $1, $2, $3, $4, now())`,
    [id, unionId, currentOfficerId, deleted ? new Date() : null],
  );
}

async function addLoanType(id: string, deleted = false) {
  await db.query(
    `INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "deletedAt", "updatedAt") VALUES ($1, $1, 1000, 50000, $2, now())`,
    [id, deleted ? new Date() : null],
  );
}

interface LoanFixture {
  status: string;
  member: string;
  union: string;
  createdBy: string;
  assignedTo?: string;
  loanType?: string;
  deleted?: boolean;
}

async function addLoan(id: string, l: LoanFixture) {
  await db.query(
    `INSERT INTO "Loan" (id, "loanNumber", "unionMemberId", "unionId", "loanTypeId", "principalAmount", "termCount", "termUnit",
       "startDate", "processingFeeAmount", "penaltyFeePerDayAmount", status, "createdByUserId", "assignedOfficerId", "deletedAt", "updatedAt")
     VALUES ($1, $1, $2, $3, $4, 10000, 6, 'MONTH', now(), 100, 10, $5, $6, $7, $8, now())`,
    [id, l.member, l.union, l.loanType ?? null, l.status, l.createdBy, l.assignedTo ?? null, l.deleted ? new Date() : null],
  );
}

/**
 * A supervisor over two live officers (and one soft-deleted); officer co1 with
 * unions, members and loans in every status; loan types used and unused.
 */
async function insertFixtures() {
  await addUser('sup', 'SUPERVISOR');
  await addUser('co1', 'CREDIT_OFFICER', { supervisorId: 'sup' });
  await addUser('co2', 'CREDIT_OFFICER', { supervisorId: 'sup', deleted: true });
  await addUser('co3', 'CREDIT_OFFICER', { supervisorId: 'sup' });
  await addUser('idle', 'CREDIT_OFFICER');
  await addUser('admin-off', 'ADMIN', { isActive: false });
  await addUser('admin-gone', 'ADMIN', { deleted: true });

  await addUnion('u1', 'co1');
  await addUnion('u2', 'co1');
  await addUnion('u3', 'co1', true);
  await addUnion('u-empty', 'co3');

  await addMember('m1', 'u1', 'co1');
  await addMember('m2', 'u1', 'co1');
  await addMember('m3', 'u2', 'co1', true);
  await addMember('m4', 'u2', null);

  await addLoanType('lt-used');
  await addLoanType('lt-closed');
  await addLoanType('lt-unused');
  await addLoanType('lt-gone', true);

  const onM1 = { member: 'm1', union: 'u1' };
  // Created and assigned by co1: one loan, counted once.
  await addLoan('L1', { ...onM1, status: 'ACTIVE', createdBy: 'co1', assignedTo: 'co1', loanType: 'lt-used' });
  // DEFAULTED is still active: money is owed.
  await addLoan('L2', { ...onM1, status: 'DEFAULTED', createdBy: 'sup', assignedTo: 'co1', loanType: 'lt-used' });
  await addLoan('L3', { ...onM1, status: 'COMPLETED', createdBy: 'co1', loanType: 'lt-used' });
  await addLoan('L4', { ...onM1, status: 'CANCELED', createdBy: 'co1', loanType: 'lt-closed' });
  await addLoan('L5', { ...onM1, status: 'WRITTEN_OFF', createdBy: 'sup', assignedTo: 'co1', loanType: 'lt-closed' });
  await addLoan('L6', { ...onM1, status: 'ACTIVE', createdBy: 'co1', assignedTo: 'co1', loanType: 'lt-used', deleted: true });
  await addLoan('L7', { ...onM1, status: 'DRAFT', createdBy: 'co1' });
  await addLoan('L8', { ...onM1, status: 'PENDING_APPROVAL', createdBy: 'sup', assignedTo: 'sup' });
}

describe('USER', () => {
  it('lists unions, members, distinct active loans and supervised officers, ignoring soft-deleted and closed rows', async () => {
    expect(await report('USER', 'co1')).toEqual({
      canDelete: false,
      dependencies: [
        { type: 'unions', count: 2, message: 'This user manages 2 unions' },
        { type: 'members', count: 2, message: 'This user is assigned to 2 members' },
        { type: 'loans', count: 3, message: 'This user has 3 active loans' },
      ],
      suggestions: [
        'Reassign the unions to another credit officer before deleting',
        'Reassign the members (or their unions) to another credit officer before deleting',
        'Complete or reassign the active loans before deleting',
      ],
    });
  });

  it('counts loans a supervisor created or is assigned to, and the officers it supervises', async () => {
    expect(await report('USER', 'sup')).toEqual({
      canDelete: false,
      dependencies: [
        { type: 'loans', count: 2, message: 'This user has 2 active loans' },
        { type: 'supervised', count: 2, message: 'This supervisor manages 2 credit officers' },
      ],
      suggestions: [
        'Complete or reassign the active loans before deleting',
        'Reassign the credit officers to another supervisor before deleting',
      ],
    });
  });

  it('uses the singular for one', async () => {
    expect(await report('USER', 'co3')).toEqual({
      canDelete: false,
      dependencies: [{ type: 'unions', count: 1, message: 'This user manages 1 union' }],
      suggestions: ['Reassign the unions to another credit officer before deleting'],
    });
  });

  it('lets a user without dependencies be deleted', async () => {
    expect(await report('USER', 'idle')).toEqual(noDependencies);
    expect(await report('USER', 'admin-off')).toEqual(noDependencies);
  });

  it('is NOT_FOUND for an unknown or soft-deleted user', async () => {
    expect(errorCode(await check('USER', 'nobody'))).toBe('NOT_FOUND');
    const gone = await check('USER', 'co2');
    expect(errorCode(gone)).toBe('NOT_FOUND');
    expect(gone.errors![0].message).toBe('User "co2" does not exist');
    expect(gone.data).toBeNull();
  });
});

describe('UNION', () => {
  it('lists live members and active loans', async () => {
    expect(await report('UNION', 'u1')).toEqual({
      canDelete: false,
      dependencies: [
        { type: 'members', count: 2, message: 'This union has 2 members' },
        { type: 'loans', count: 4, message: 'This union has 4 active loans' },
      ],
      suggestions: ['Reassign the members to another union or delete them first', 'Complete the active loans before deleting the union'],
    });
  });

  it('ignores soft-deleted members and lets an empty union go', async () => {
    expect(await report('UNION', 'u2')).toEqual({
      canDelete: false,
      dependencies: [{ type: 'members', count: 1, message: 'This union has 1 member' }],
      suggestions: ['Reassign the members to another union or delete them first'],
    });
    expect(await report('UNION', 'u-empty')).toEqual(noDependencies);
  });

  it('is NOT_FOUND for an unknown or soft-deleted union', async () => {
    expect(errorCode(await check('UNION', 'nowhere'))).toBe('NOT_FOUND');
    expect(errorCode(await check('UNION', 'u3'))).toBe('NOT_FOUND');
  });
});

describe('UNION_MEMBER', () => {
  it('lists active loans only (DRAFT, PENDING_APPROVAL, ACTIVE, DEFAULTED)', async () => {
    expect(await report('UNION_MEMBER', 'm1')).toEqual({
      canDelete: false,
      dependencies: [{ type: 'loans', count: 4, message: 'This member has 4 active loans' }],
      suggestions: ['Complete or write off the active loans before deleting the member'],
    });
  });

  it('lets a member without active loans go', async () => {
    expect(await report('UNION_MEMBER', 'm2')).toEqual(noDependencies);
  });

  it('lets a member whose loans are all closed go', async () => {
    await addMember('m-closed', 'u2', null);
    await addLoan('L-done', { member: 'm-closed', union: 'u2', status: 'COMPLETED', createdBy: 'idle' });
    try {
      expect(await report('UNION_MEMBER', 'm-closed')).toEqual(noDependencies);
    } finally {
      await db.query(`DELETE FROM "Loan" WHERE id = 'L-done'`);
      await db.query(`DELETE FROM "UnionMember" WHERE id = 'm-closed'`);
    }
  });

  it('is NOT_FOUND for an unknown or soft-deleted member', async () => {
    expect(errorCode(await check('UNION_MEMBER', 'nobody'))).toBe('NOT_FOUND');
    expect(errorCode(await check('UNION_MEMBER', 'm3'))).toBe('NOT_FOUND');
  });
});

describe('LOAN_TYPE', () => {
  it('is blocked by every live loan of the type, closed ones included', async () => {
    expect(await report('LOAN_TYPE', 'lt-used')).toEqual({
      canDelete: false,
      dependencies: [{ type: 'loans', count: 3, message: 'This loan type is used by 3 loans' }],
      suggestions: ['Deactivate the loan type instead; its loans keep their current settings'],
    });
    expect(await report('LOAN_TYPE', 'lt-closed')).toEqual({
      canDelete: false,
      dependencies: [{ type: 'loans', count: 2, message: 'This loan type is used by 2 loans' }],
      suggestions: ['Deactivate the loan type instead; its loans keep their current settings'],
    });
  });

  it('lets an unused loan type go', async () => {
    expect(await report('LOAN_TYPE', 'lt-unused')).toEqual(noDependencies);
  });

  it('is NOT_FOUND for an unknown or soft-deleted loan type', async () => {
    expect(errorCode(await check('LOAN_TYPE', 'none'))).toBe('NOT_FOUND');
    expect(errorCode(await check('LOAN_TYPE', 'lt-gone'))).toBe('NOT_FOUND');
  });
});

describe('odd input', () => {
  it('refuses empty, overlong and NUL-bearing ids with BAD_USER_INPUT', async () => {
    for (const id of ['', '   ', 'x'.repeat(10_000), 'co1\u0000']) {
      const res = await check('USER', id);
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message.length).toBeLessThan(200);
    }
  });

  it('treats SQL-looking and unusual ids as plain values: NOT_FOUND, tables intact', async () => {
    const ids = [`' OR '1'='1`, `co1' --`, `"; DROP TABLE "User"; --`, 'co1%', '_', '💥', '\ud800', 'x'.repeat(255)];
    for (const entityType of ['USER', 'UNION', 'UNION_MEMBER', 'LOAN_TYPE']) {
      for (const id of ids) expect(errorCode(await check(entityType, id))).toBe('NOT_FOUND');
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM "User" WHERE id = 'co1'`)).rows[0].n).toBe(1);
  });

  it('refuses an unknown entity type as a GraphQL input error', async () => {
    expect(errorCode(await check('LOAN', 'L1'))).toBe('BAD_USER_INPUT');
  });
});

describe('access', () => {
  it('is admin-only', async () => {
    const res = await gql(kiln.url, CHECK, { t: 'USER', id: 'idle' });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.data).toBeNull();
  });
});

describe('protected accounts', () => {
  it('protects the configured super admin, whatever else it has', async () => {
    const service = new DeletionDependenciesService(kiln.dataSource, { superAdminEmail: 'CO1@Kiln.Test' });
    expect(await service.check(DependencyEntity.USER, 'co1')).toEqual({
      canDelete: false,
      dependencies: [{ type: 'protected', count: 1, message: 'The super admin cannot be deleted' }],
      suggestions: ['Keep the super admin; deactivate or delete other accounts instead'],
    });
  });

  it('protects the last active admin (inactive and soft-deleted admins do not count), until there is another', async () => {
    expect(await report('USER', rootId)).toEqual({
      canDelete: false,
      dependencies: [{ type: 'protected', count: 1, message: 'The last active administrator cannot be deleted' }],
      suggestions: ['Create or activate another administrator first'],
    });
    await addUser('admin2', 'ADMIN');
    expect(await report('USER', rootId)).toEqual(noDependencies);
    expect(await report('USER', 'admin2')).toEqual(noDependencies);
  });
});
