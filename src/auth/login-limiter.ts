import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { quoteIdent, updateReturning } from '../db/sql';
import { TooManyRequestsError } from '../errors/kiln-errors';

export interface LoginLimits {
  /** Login attempts one client address may make per minute, whatever the outcome. */
  attemptsPerMinute: number;
  /** Wrong passwords per account from one address in 15 minutes; then that pair waits 15 minutes. */
  failuresPerAccount: number;
}

const TABLE = 'kiln_rate_limits';
const ACCOUNT_AND_ADDRESS = 'login_account_address';
const ACCOUNT = 'login_account';

/**
 * Login rate limits, shared by every instance through kiln_rate_limits (one
 * atomic upsert a decision; rate-limiter-flexible), with a per-instance memory
 * limiter standing in while the database does not answer.
 *
 * - Per address: any attempt counts; a flood is refused before any password is checked.
 * - Per account and address: each attempt reserves a failure before the password is
 *   checked (so 30 parallel guesses get 5 checks, not 30), given back on success.
 * - Per account, from every address: six times as many in an hour, so a guesser
 *   spreading over addresses is slowed too, while one address alone cannot lock an
 *   account for anybody else.
 * Accounts are keyed by a hash of the normalised email, known or not: an unknown email
 * is limited exactly like a real one (no enumeration), and no email is stored.
 */
export class LoginLimiter {
  private readonly perAddress: RateLimiterAbstract;
  private readonly perAccountAndAddress: RateLimiterAbstract;
  private readonly perAccount: RateLimiterAbstract;

  constructor(
    private readonly pool: Pool,
    private readonly kilnSchema: string,
    limits: LoginLimits,
  ) {
    const store = (keyPrefix: string, points: number, duration: number, blockDuration = 0, inMemoryBlockOnConsumed = 0) =>
      new RateLimiterPostgres({
        // Once over the limit, this instance answers from memory: a flood costs no database work.
        inMemoryBlockOnConsumed,
        storeClient: pool,
        schemaName: kilnSchema,
        tableName: TABLE,
        tableCreated: true, // by the KilnRateLimits migration
        keyPrefix,
        points,
        duration,
        blockDuration,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration, blockDuration }),
      });
    this.perAddress = store('login_address', limits.attemptsPerMinute, 60, 0, limits.attemptsPerMinute + 1);
    this.perAccountAndAddress = store(ACCOUNT_AND_ADDRESS, limits.failuresPerAccount, 15 * 60, 15 * 60);
    this.perAccount = store(ACCOUNT, limits.failuresPerAccount * 6, 3600, 3600);
  }

  /** Admits one attempt or throws TOO_MANY_REQUESTS with the seconds to wait. */
  async admit(address: string, email: string): Promise<void> {
    await take(this.perAddress, address, 'Too many login attempts from this address');
    const account = accountKey(email);
    await take(this.perAccountAndAddress, `${account}|${address}`, 'Too many failed logins for this account');
    await take(this.perAccount, account, 'Too many failed logins for this account');
  }

  /** The attempt was right: its reserved failures are given back. */
  async succeeded(address: string, email: string): Promise<void> {
    const account = accountKey(email);
    await this.perAccountAndAddress.delete(`${account}|${address}`);
    await this.perAccount.reward(account, 1);
  }

  /** Lifts every limit on the account (an operator's unlock); true when any failure was counted. */
  async unlock(email: string): Promise<boolean> {
    const account = accountKey(email);
    const rows = await updateReturning<{ points: number }>(this.pool, `DELETE FROM ${quoteIdent(this.kilnSchema)}.${quoteIdent(TABLE)} WHERE key = $1 OR key LIKE $2 RETURNING points`, [
      `${ACCOUNT}:${account}`,
      `${ACCOUNT_AND_ADDRESS}:${account}|%`,
    ]);
    return rows.some((r) => r.points > 0);
  }
}

/** sha256 of the email as Kiln matches it (trimmed, lowercase). */
function accountKey(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}

async function take(limiter: RateLimiterAbstract, key: string, message: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
    throw new TooManyRequestsError(`${message}: try again in ${seconds} s`, seconds);
  }
}
