import bcrypt from 'bcrypt';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { PasswordWorkerError, PasswordWorkers } from './password-workers';
import { TooManyRequestsError } from '../errors/kiln-errors';

/** Checks waiting beyond this many per running one are refused: a flood from many addresses queues no further. */
const QUEUED_PER_SLOT = 25;

/**
 * Password hashes, checked off the event loop: `bcrypt` (native) on `concurrency` worker
 * threads of low priority (PasswordWorkers, nice 19 by default), so checks never take the CPU
 * from the event loop; the rest wait their turn (a bounded turn: past it, the server says it is busy).
 * Hashes stay bcrypt `$2b$`, which the lending app's bcryptjs reads.
 */
export class PasswordService {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly workers: PasswordWorkers;
  private readonly maxQueued: number;
  private dummy?: Promise<string>;
  /** How long a check at the configured cost usually takes here (a moving average). */
  private usualMs?: number;

  constructor(
    /** Cost of every new hash, and of the stand-in checked for an account that cannot log in. */
    readonly cost: number,
    concurrency: number,
    /** The checks' threads' nice value (PASSWORD_CHECK_NICE). */
    nice = 19,
  ) {
    this.limit = pLimit(concurrency);
    this.workers = new PasswordWorkers(concurrency, nice);
    this.maxQueued = concurrency * QUEUED_PER_SLOT;
  }

  hash(password: string): Promise<string> {
    return this.run(() => this.workers.hash(password, this.cost));
  }

  /**
   * Whether `password` matches `hash`; a malformed hash does not match. A check of a cheaper
   * hash (the app's cost 10) is padded to the usual time of one at the configured cost, so its
   * answer does not tell such an account from an unknown email.
   */
  async verify(password: string, hash: string): Promise<boolean> {
    let elapsed = 0;
    const matches = await this.run(async () => {
      const started = performance.now(); // the check itself, not its wait for a slot
      // A malformed hash does not match; a stopped worker is an error, not a wrong password.
      const result = await this.workers.compare(password, hash).catch((err: unknown) => {
        if (err instanceof PasswordWorkerError) throw err;
        return false;
      });
      elapsed = performance.now() - started;
      return result;
    });
    if (!this.needsRehash(hash)) this.usualMs = this.usualMs === undefined ? elapsed : 0.8 * this.usualMs + 0.2 * elapsed;
    else if (this.usualMs !== undefined && elapsed < this.usualMs) await new Promise((r) => setTimeout(r, this.usualMs! - elapsed));
    return matches;
  }

  /** TOO_MANY_REQUESTS while the queue of checks is full: lets a login be refused before it costs anything else. */
  assertAvailable(): void {
    if (this.limit.pendingCount >= this.maxQueued) throw new TooManyRequestsError('The server is busy checking passwords: try again in a moment', 1);
  }

  private run<T>(work: () => Promise<T>): Promise<T> {
    try {
      this.assertAvailable();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.limit(work);
  }

  /**
   * Checks `password` against a hash of the configured cost that nothing matches: what a
   * login costs for an unknown email or an account that may not log in, so its answer
   * takes as long as a wrong password's.
   */
  async verifyNothing(password: string): Promise<false> {
    if (!this.dummy) {
      const dummy = this.workers.hash(`kiln-timing-equaliser-${Math.random()}`, this.cost);
      this.dummy = dummy;
      dummy.catch(() => {
        if (this.dummy === dummy) this.dummy = undefined; // made again next time, never a cached failure
      });
    }
    await this.verify(password, await this.dummy);
    return false;
  }

  /** Ends the worker threads (at shutdown). */
  close(): Promise<void> {
    return this.workers.close();
  }

  /** True when `hash` was made with another cost than the configured one (rehashed at the next login). */
  needsRehash(hash: string): boolean {
    try {
      return bcrypt.getRounds(hash) !== this.cost;
    } catch {
      return true;
    }
  }
}
