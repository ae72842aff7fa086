import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { startKiln, type RunningKiln } from '../../src/kiln';
import { createLogger } from '../../src/logging/logger';
import { Client } from 'pg';
import { TokenService } from '../../src/auth/token.service';
import { newId } from '../../src/db/ids';
import { freshDatabase, holdDatabase } from './test-database';

export const TEST_ADMIN = { email: 'root@kiln.test', password: 'correct-horse-battery-staple' };
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
/** Every test gateway signs with this key, so a file one wrote restores on another. */
export const TEST_BACKUP_SIGNING_KEY = 'test-backup-signing-key-long-enough-0123456789';
/** bcrypt's cheapest: tests log in hundreds of times; those that time checks set their own cost. */
export const TEST_BCRYPT_COST = 4;

export interface TestKiln extends RunningKiln {
  databaseUrl: string;
  dataDir: string;
  backupDir: string;
}

/**
 * A real gateway on a fresh database (this worker's, a copy of the migrated template), listening on a random port.
 * With `logLines`, every log line (debug level) is parsed into it, for tests that read the logs.
 */
export async function startTestKiln(env: Record<string, string> = {}, databaseUrl?: string, logLines?: Array<Record<string, any>>): Promise<TestKiln> {
  const url = databaseUrl ?? (await freshDatabase(undefined, { migrated: true }));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-test-data-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: url,
    DATA_DIR: dataDir,
    BACKUP_DIR: path.join(dataDir, 'backups'),
    JWT_SECRET: TEST_JWT_SECRET,
    BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    LOG_LEVEL: process.env.KILN_TEST_LOG_LEVEL ?? 'silent',
    // Tests log in often from one address: the login limits are tested where they are set low.
    LOGIN_ATTEMPTS_PER_MINUTE: '10000',
    LOGIN_MAX_FAILURES: '1000',
    ANONYMOUS_REQUESTS_PER_SECOND: '10000',
    BCRYPT_COST: String(TEST_BCRYPT_COST),
    // At the default 19, a loaded machine (stress-ng, the other workers) gives a login seconds,
    // not milliseconds: tests log in often. Where the priority matters, a test sets it.
    PASSWORD_CHECK_NICE: '0',
    ...env,
  });
  const logger = logLines
    ? createLogger('debug', { write: (line: string) => void logLines.push(JSON.parse(line)) })
    : createLogger(config.log.level);
  const release = holdDatabase(url);
  let kiln: Awaited<ReturnType<typeof startKiln>>;
  try {
    kiln = await startKiln(config, logger);
  } catch (err) {
    release();
    throw err;
  }
  const close = async (): Promise<void> => {
    try {
      await kiln.close();
    } finally {
      release();
    }
  };
  return { ...kiln, close, databaseUrl: url, dataDir, backupDir: config.backup.dir };
}

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: string[] }>;
}

/** A GraphQL request over real HTTP, as a client would send it. */
export async function gql<T = Record<string, any>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: res.status, ...body };
}

/** Logs in and returns the bearer token, failing the test with the server's error otherwise. */
export async function loginToken(baseUrl: string, email = TEST_ADMIN.email, password = TEST_ADMIN.password): Promise<string> {
  const res = await gql<{ login: { token: string } }>(
    baseUrl,
    'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }',
    { e: email, p: password },
  );
  if (!res.data?.login) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login.token;
}

/** The first error's extensions.code. */
export function errorCode(res: GraphQLResponse): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

/**
 * A token of a lending-app staff member (CREDIT_OFFICER), with a live session: Kiln never issues
 * one (logins are for admins), but one could exist (a demoted admin's, a stolen one).
 */
export async function staffToken(databaseUrl: string, email = 'staff@kiln.test'): Promise<{ token: string; userId: string }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const [userId, jwtId] = [newId(), newId()];
    await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, $2, 'x', 'CREDIT_OFFICER', now())`, [userId, email]);
    const signed = new TokenService(TEST_JWT_SECRET, 3600).sign({ userId, jwtId });
    await db.query(`INSERT INTO "StaffSession" (id, "userId", "jwtId", "expiresAt") VALUES ($1, $2, $3, $4)`, [newId(), userId, jwtId, signed.expiresAt]);
    return { token: signed.token, userId };
  } finally {
    await db.end();
  }
}
