import bcrypt from 'bcryptjs';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { newId } from '../src/db/ids';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN, TEST_BCRYPT_COST, TEST_JWT_SECRET, type TestKiln } from './support/test-kiln';

const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token expiresAt user { id email role isActive } } }';
const ME = '{ me { id email role firstName lastName isActive } }';

let kiln: TestKiln;
let db: Client;

beforeAll(async () => {
  kiln = await startTestKiln();
  db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

async function addUser(email: string, password: string, role: string, extra: { isActive?: boolean; cost?: number } = {}): Promise<string> {
  const id = newId();
  await db.query(
    `INSERT INTO "User" (id, email, "passwordHash", role, "isActive", "updatedAt") VALUES ($1, $2, $3, $4, $5, now())`,
    [id, email, await bcrypt.hash(password, extra.cost ?? TEST_BCRYPT_COST), role, extra.isActive ?? true],
  );
  return id;
}

async function historyRows(userId: string) {
  const { rows } = await db.query(`SELECT success, "failureReason" FROM "UserLoginHistory" WHERE "userId" = $1 ORDER BY "loginAt"`, [userId]);
  return rows;
}

async function tableCounts(): Promise<Record<string, number>> {
  const { rows } = await db.query(`
    SELECT (SELECT count(*) FROM "StaffSession")::int AS sessions,
           (SELECT count(*) FROM "UserLoginHistory")::int AS history,
           (SELECT count(*) FROM "AuditLog")::int AS audit,
           (SELECT count(*) FROM "User")::int AS users`);
  return rows[0];
}

describe('login', () => {
  it('gives the bootstrap admin a token that works for me, bound to a StaffSession', async () => {
    const res = await gql(kiln.url, LOGIN, { e: TEST_ADMIN.email, p: TEST_ADMIN.password });
    expect(res.errors).toBeUndefined();
    const { token, user, expiresAt } = res.data!.login;
    expect(user).toMatchObject({ email: TEST_ADMIN.email, role: 'ADMIN', isActive: true });
    expect(new Date(expiresAt).getTime()).toBeGreaterThan(Date.now());

    const claims = jwt.decode(token) as jwt.JwtPayload;
    const session = await db.query(`SELECT "userId", "revokedAt", "expiresAt" FROM "StaffSession" WHERE "jwtId" = $1`, [claims.jti]);
    expect(session.rows).toHaveLength(1);
    expect(session.rows[0].userId).toBe(user.id);
    expect(session.rows[0].revokedAt).toBeNull();

    const me = await gql(kiln.url, ME, {}, token);
    expect(me.data!.me).toMatchObject({ id: user.id, email: TEST_ADMIN.email, role: 'ADMIN' });
    const history = await historyRows(user.id);
    expect(history.at(-1)).toEqual({ success: true, failureReason: null });
  });

  it('accepts the email in another case', async () => {
    const res = await gql(kiln.url, LOGIN, { e: TEST_ADMIN.email.toUpperCase(), p: TEST_ADMIN.password });
    expect(res.errors).toBeUndefined();
  });

  it('refuses a wrong password with UNAUTHENTICATED and records only the history row', async () => {
    const userId = await addUser('wrongpw@kiln.test', 'the-right-password', 'ADMIN');
    const before = await tableCounts();
    const res = await gql(kiln.url, LOGIN, { e: 'wrongpw@kiln.test', p: 'not-the-password' });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0].message).toBe('Invalid email or password');
    expect(res.data).toBeNull();
    expect(JSON.stringify(res)).not.toMatch(/stack|at .*\.ts/);
    const after = await tableCounts();
    expect(after).toEqual({ ...before, history: before.history + 1 });
    expect(await historyRows(userId)).toEqual([{ success: false, failureReason: 'INVALID_PASSWORD' }]);
  });

  it('answers an unknown email exactly like a wrong password, writing nothing', async () => {
    const before = await tableCounts();
    const res = await gql(kiln.url, LOGIN, { e: 'nobody@kiln.test', p: 'whatever-password' });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0].message).toBe('Invalid email or password');
    expect(await tableCounts()).toEqual(before);
  });

  it.each([
    ['a non-admin with the right password', 'officer@kiln.test', 'officer-password', 'CREDIT_OFFICER', true, 'NOT_ADMIN'],
    ['a disabled admin with the right password', 'disabled@kiln.test', 'disabled-password', 'ADMIN', false, 'ACCOUNT_DISABLED'],
  ])('answers %s exactly like a wrong password, and issues no session', async (_what, email, password, role, isActive, reason) => {
    const userId = await addUser(email, password, role, { isActive });
    const wrong = await gql(kiln.url, LOGIN, { e: email, p: 'not-the-password' });
    const right = await gql(kiln.url, LOGIN, { e: email, p: password });
    // The same answer in every way: a lending-app staff password is never confirmed.
    expect(right).toEqual(wrong);
    expect(right.errors![0]).toMatchObject({ message: 'Invalid email or password', extensions: { code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' } });
    expect(await historyRows(userId)).toEqual([
      { success: false, failureReason: reason },
      { success: false, failureReason: reason },
    ]);
    const sessions = await db.query(`SELECT count(*)::int AS n FROM "StaffSession" WHERE "userId" = $1`, [userId]);
    expect(sessions.rows[0].n).toBe(0);
  });

  it('rehashes a password of another cost at login, and the new hash works', async () => {
    const userId = await addUser('rehash@kiln.test', 'the-right-password', 'ADMIN', { cost: TEST_BCRYPT_COST + 1 });
    expect((await gql(kiln.url, LOGIN, { e: 'rehash@kiln.test', p: 'the-right-password' })).errors).toBeUndefined();
    const [{ passwordHash }] = (await db.query(`SELECT "passwordHash" FROM "User" WHERE id = $1`, [userId])).rows;
    expect(passwordHash).toMatch(new RegExp(`^\\$2[aby]\\$${String(TEST_BCRYPT_COST).padStart(2, '0')}\\$`));
    expect(await bcrypt.compare('the-right-password', passwordHash)).toBe(true);
    expect((await gql(kiln.url, LOGIN, { e: 'rehash@kiln.test', p: 'the-right-password' })).errors).toBeUndefined();
  });

  it.each([
    ['SQL in the email', "' OR 1=1 --", 'x'],
    ['SQL in the password', TEST_ADMIN.email, "' OR '1'='1"],
  ])('treats %s as plain text', async (_what, e, p) => {
    const before = await tableCounts();
    const res = await gql(kiln.url, LOGIN, { e, p });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    const after = await tableCounts();
    expect(after.sessions).toBe(before.sessions);
    expect(after.users).toBe(before.users);
  });

  it.each([
    ['email', 'a'.repeat(10_000) + '@kiln.test', 'password'],
    ['password', TEST_ADMIN.email, 'p'.repeat(10_000)],
  ])('refuses a very long %s with BAD_USER_INPUT and writes nothing', async (field, e, p) => {
    const before = await tableCounts();
    const res = await gql(kiln.url, LOGIN, { e, p });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toContain(field);
    expect(await tableCounts()).toEqual(before);
  });

  it('refuses a request body over the size limit with a JSON 413', async () => {
    const res = await fetch(`${kiln.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: LOGIN, variables: { e: 'x'.repeat(200_000), p: 'y' } }),
    });
    expect(res.status).toBe(413);
    const body: any = await res.json();
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('tokens on HTTP', () => {
  it('needs a token: no header is UNAUTHENTICATED', async () => {
    const res = await gql(kiln.url, ME);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.data).toBeNull();
  });

  it.each([
    ['malformed', 'not-a-jwt'],
    ['signed with another secret', jwt.sign({}, 'another-secret-another-secret-another-secret', { issuer: 'kiln', subject: 'u', jwtid: 'j' })],
    ['unsigned (alg none)', jwt.sign({}, '', { algorithm: 'none', issuer: 'kiln', subject: 'u', jwtid: 'j' })],
    ['valid signature but no session', jwt.sign({}, TEST_JWT_SECRET, { issuer: 'kiln', subject: 'u', jwtid: 'nope', expiresIn: 60 })],
  ])('refuses a %s token with UNAUTHENTICATED', async (_what, token) => {
    const res = await gql(kiln.url, ME, {}, token);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses a tampered token', async () => {
    const token = await loginToken(kiln.url);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.sub = 'someone-else';
    const tampered = [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
    expect(errorCode(await gql(kiln.url, ME, {}, tampered))).toBe('UNAUTHENTICATED');
  });

  it('refuses an expired token', async () => {
    const token = await loginToken(kiln.url);
    const claims = jwt.decode(token) as jwt.JwtPayload;
    const expired = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 10 }, TEST_JWT_SECRET, { issuer: 'kiln', subject: claims.sub, jwtid: claims.jti });
    const res = await gql(kiln.url, ME, {}, expired);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0].extensions!.reason).toBe('TOKEN_EXPIRED');
  });

  it('refuses a token whose session has expired in the database', async () => {
    const token = await loginToken(kiln.url);
    const { jti } = jwt.decode(token) as jwt.JwtPayload;
    await db.query(`UPDATE "StaffSession" SET "expiresAt" = now() - interval '1 second' WHERE "jwtId" = $1`, [jti]);
    const res = await gql(kiln.url, ME, {}, token);
    expect(res.errors![0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_EXPIRED' });
  });

  it('logout revokes the session: the same token is refused afterwards', async () => {
    const token = await loginToken(kiln.url);
    const out = await gql(kiln.url, 'mutation { logout }', {}, token);
    expect(out.data).toEqual({ logout: true });
    const res = await gql(kiln.url, ME, {}, token);
    expect(res.errors![0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
    const { jti } = jwt.decode(token) as jwt.JwtPayload;
    const row = await db.query(`SELECT "revokedAt" FROM "StaffSession" WHERE "jwtId" = $1`, [jti]);
    expect(row.rows[0].revokedAt).not.toBeNull();
  });

  it('refuses an admin demoted after login with FORBIDDEN, and a disabled one too', async () => {
    const userId = await addUser('demoted@kiln.test', 'demoted-password', 'ADMIN');
    const token = await loginToken(kiln.url, 'demoted@kiln.test', 'demoted-password');
    await db.query(`UPDATE "User" SET role = 'SUPERVISOR' WHERE id = $1`, [userId]);
    expect(errorCode(await gql(kiln.url, ME, {}, token))).toBe('FORBIDDEN');
    await db.query(`UPDATE "User" SET role = 'ADMIN', "isActive" = false WHERE id = $1`, [userId]);
    expect(errorCode(await gql(kiln.url, ME, {}, token))).toBe('FORBIDDEN');
  });

  it('keeps CSRF prevention on: a simple GET without a preflight header is refused', async () => {
    const res = await fetch(`${kiln.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(res.status).toBe(400);
  });

  it('refuses queries deeper than MAX_QUERY_DEPTH and larger than MAX_QUERY_TOKENS', async () => {
    const strict = await startTestKiln({ MAX_QUERY_DEPTH: '2', MAX_QUERY_TOKENS: '200' }, kiln.databaseUrl);
    try {
      const token = await loginToken(strict.url);
      const shallow = await gql(strict.url, '{ maintenanceMode { enabled } }', {}, token);
      expect(shallow.errors).toBeUndefined();
      const deep = await gql(strict.url, '{ maintenanceMode { enabledBy { email } } }', {}, token);
      expect(deep.errors?.[0].message).toMatch(/depth/i);
      const wide = `{ ${Array.from({ length: 150 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
      const big = await gql(strict.url, wide, {}, token);
      expect(big.errors?.[0].message).toMatch(/token/i);
    } finally {
      await strict.close();
    }
  });
});
