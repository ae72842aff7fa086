/**
 * Logins as a hostile client tries them: floods, parallel guessing, lockout from one
 * address, spoofed X-Forwarded-For, and telling accounts apart by the time of the answer.
 */
import bcrypt from 'bcryptjs';
import { Client } from 'pg';
import { newId } from '../src/db/ids';
import { errorCode, startTestKiln, TEST_ADMIN, TEST_BCRYPT_COST, type GraphQLResponse, type TestKiln } from './support/test-kiln';
import { freshDatabase } from './support/test-database';

const LOGIN = 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }';
const LIMITS = { LOGIN_ATTEMPTS_PER_MINUTE: '12', LOGIN_MAX_FAILURES: '5', TRUST_PROXY: 'loopback' };
/** The app's cost (production's lowest), where a check's time matters. */
const TIMED_COST = 10;

let kiln: TestKiln;
let db: Client;

beforeAll(async () => {
  kiln = await startTestKiln(LIMITS, await freshDatabase());
  db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});
// Every test starts with no limit in force.
beforeEach(async () => db.query('DELETE FROM kiln_rate_limits'));

/** A login from `address` (X-Forwarded-For, believed from loopback here: TRUST_PROXY=loopback). */
async function login(email: string, password: string, address = '203.0.113.1', extraHeaders: Record<string, string> = {}, url = kiln.url): Promise<GraphQLResponse> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...extraHeaders },
    body: JSON.stringify({ query: LOGIN, variables: { e: email, p: password } }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

async function addAdmin(email: string, password: string, cost = TEST_BCRYPT_COST): Promise<string> {
  const id = newId();
  await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, $2, $3, 'ADMIN', now())`, [id, email, await bcrypt.hash(password, cost)]);
  return id;
}

const failedChecks = async (userId: string) =>
  (await db.query(`SELECT count(*)::int AS n FROM "UserLoginHistory" WHERE "userId" = $1 AND NOT success`, [userId])).rows[0].n;

it('refuses a flood from one address with TOO_MANY_REQUESTS and a retry-after, before checking any password', async () => {
  const codes: Array<string | undefined> = [];
  for (let i = 0; i < 15; i++) codes.push(errorCode(await login(`flood-${i}@kiln.test`, 'guess')));
  expect(codes).toEqual([...Array(12).fill('UNAUTHENTICATED'), ...Array(3).fill('TOO_MANY_REQUESTS')]);
  const refused = await login(TEST_ADMIN.email, TEST_ADMIN.password);
  expect(refused.errors![0].extensions).toEqual({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: expect.any(Number) });
  expect(refused.errors![0].extensions!.retryAfterSeconds).toBeGreaterThan(0);
  expect(refused.errors![0].extensions!.retryAfterSeconds).toBeLessThanOrEqual(60);
  // Another address is not held back by this one's flood.
  expect((await login(TEST_ADMIN.email, TEST_ADMIN.password, '203.0.113.2')).errors).toBeUndefined();
});

it('counts parallel wrong passwords atomically: 30 at once from two addresses get 5 checks each, the others TOO_MANY_REQUESTS', async () => {
  // At the app's cost: a check that takes real time is what a count made after it would race past.
  const userId = await addAdmin('guessed@kiln.test', 'the-right-password', TIMED_COST);
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => login('guessed@kiln.test', `wrong-${i}`, `198.51.100.${i % 2}`)));
  const codes = answers.map(errorCode);
  // Two addresses, each allowed 5 failures for this account: 10 checks at most, never more.
  expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(10);
  expect(codes.filter((c) => c === 'TOO_MANY_REQUESTS')).toHaveLength(20);
  expect(await failedChecks(userId)).toBe(10);
  // The right password from those addresses waits; from a third address the admin gets in.
  expect(errorCode(await login('guessed@kiln.test', 'the-right-password', '198.51.100.0'))).toBe('TOO_MANY_REQUESTS');
  expect((await login('guessed@kiln.test', 'the-right-password', '198.51.100.7')).errors).toBeUndefined();
});

it('limits an unknown email exactly like a real one', async () => {
  await addAdmin('real@kiln.test', 'the-right-password');
  const run = async (email: string, address: string) =>
    (await Promise.all(Array.from({ length: 8 }, (_, i) => login(email, `wrong-${i}`, address)))).map(errorCode).sort();
  expect(await run('nobody-at-all@kiln.test', '192.0.2.1')).toEqual(await run('real@kiln.test', '192.0.2.2'));
});

it('believes X-Forwarded-For only from TRUST_PROXY: without it, a spoofed header escapes no limit', async () => {
  const strict = await startTestKiln({ LOGIN_ATTEMPTS_PER_MINUTE: '3' }, kiln.databaseUrl);
  try {
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${strict.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.8.${i}` },
        body: JSON.stringify({ query: LOGIN, variables: { e: 'spoof@kiln.test', p: 'guess' } }),
      });
      codes.push(errorCode({ status: res.status, ...((await res.json()) as object) }));
    }
    expect(codes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'TOO_MANY_REQUESTS', 'TOO_MANY_REQUESTS']);
  } finally {
    await strict.close();
  }
});

it('takes as long for an unknown email, a non-admin and a wrong admin password (12 paired tries)', async () => {
  // Checks timed at the app's cost, as in production (the suite's cheapest would time noise).
  const timed = await startTestKiln({ ...LIMITS, BCRYPT_COST: String(TIMED_COST) }, kiln.databaseUrl);
  try {
    await timedLogins(timed.url);
  } finally {
    await timed.close();
  }
}, 240_000);

async function timedLogins(url: string) {
  // An admin hashed at the configured cost (as Kiln hashes and rehashes), a staff member at the app's.
  await addAdmin('timed-admin@kiln.test', 'the-right-password', TIMED_COST);
  await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, 'timed-officer@kiln.test', $2, 'CREDIT_OFFICER', now())`, [
    newId(),
    await bcrypt.hash('officer-password', 12),
  ]);
  const time = async (email: string, password: string, address: string) => {
    const started = process.hrtime.bigint();
    const res = await login(email, password, address, {}, url);
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  // An admin the app made (cost 4 here, cheaper than Kiln's): its check is padded to the usual time.
  await addAdmin('timed-cheap@kiln.test', 'the-right-password', 4);
  const ratios = { unknown: [] as number[], officer: [] as number[], cheap: [] as number[] };
  for (let i = 0; i < 12; i++) {
    await db.query('DELETE FROM kiln_rate_limits');
    const admin = await time('timed-admin@kiln.test', `wrong-${i}`, '192.0.2.10');
    ratios.unknown.push((await time(`timed-nobody-${i}@kiln.test`, 'guess', '192.0.2.11')) / admin);
    ratios.officer.push((await time('timed-officer@kiln.test', 'officer-password', '192.0.2.12')) / admin);
    ratios.cheap.push((await time('timed-cheap@kiln.test', `wrong-${i}`, '192.0.2.13')) / admin);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  // Before: the admin's cost-12 hash against a cost-10 stand-in answered 3.4× slower; a staff
  // password was checked for real. Now each is one check of the same cost. The bounds catch that
  // 3.4× and its inverse; they are wide because a loaded machine (stress-ng --cpu 2) slows
  // checks unevenly: on nice-19 threads the median ratio was seen at 1.68 there.
  for (const kind of ['unknown', 'officer', 'cheap'] as const) {
    expect(median(ratios[kind])).toBeGreaterThan(0.4);
    expect(median(ratios[kind])).toBeLessThan(2.5);
  }
}

it('refuses anonymous requests past ANONYMOUS_REQUESTS_PER_SECOND before reading them, never a request with a token', async () => {
  const gated = await startTestKiln({ ANONYMOUS_REQUESTS_PER_SECOND: '5' }, kiln.databaseUrl);
  try {
    const token = (await login(TEST_ADMIN.email, TEST_ADMIN.password, '192.0.2.99')).data!.login.token as string;
    const send = (headers: Record<string, string>) =>
      fetch(`${gated.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ me { id } }' }) });
    // A made-up Authorization header counts as none.
    const anonymous = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 ? { authorization: 'Bearer made-up' } : {})));
    const refused = anonymous.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(10); // 5 a second: at most two windows pass while 20 go out at once
    expect(refused[0].headers.get('retry-after')).toBe('1');
    expect(((await refused[0].json()) as any).errors[0].extensions).toEqual({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 1 });
    const admin = await Promise.all(Array.from({ length: 20 }, () => send({ authorization: `Bearer ${token}` })));
    expect(admin.map((r) => r.status)).toEqual(Array(20).fill(200));
    // A client that ignores Retry-After and loops is held until it may try again (a tarpit):
    // in 2 s one loop gets about 2 windows' worth of answers, not the hundreds an instant 429 allows.
    let answered = 0;
    for (const end = Date.now() + 2000; Date.now() < end; answered++) await (await send({})).arrayBuffer();
    expect(answered).toBeLessThanOrEqual(30);
  } finally {
    await gated.close();
  }
});
