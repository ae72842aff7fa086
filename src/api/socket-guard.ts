import type { WebSocket } from 'ws';
import type { AuthService } from '../auth/auth.service';
import type { Identity } from '../auth/identity';
import { TooManyRequestsError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';
import { FINISHED_STATUSES, JobKind } from '../jobs/job.enums';
import type { Logger } from '../logging/logger';

export interface SocketGuardOptions {
  /** How often every open socket's session is checked again (one query for all of them). */
  checkMs: number;
  maxSubscriptionsPerSocket: number;
  maxSubscriptionsPerUser: number;
  /** How long a revoked socket may wait for the final state of the job it follows. */
  graceMs?: number;
  /** How long a socket opened without a token may wait for its first subscribe to bring one (GraphiQL's way). */
  pendingAuthMs: number;
}

interface Watched {
  identity: Identity;
  /** Subscription id → whether it follows one RESTORE or RESET job (the kinds that log everybody out). */
  subscriptions: Map<string, boolean>;
  revokedAt?: number;
}

/** Jobs that end every session: their own subscriber still learns how they ended. */
const REVOKING_KINDS = new Set<string>([JobKind.RESTORE, JobKind.RESET]);

/** graphql-ws closes with this when the socket's session ended. */
export const SESSION_ENDED_CLOSE_CODE = 4403;
const DEFAULT_GRACE_MS = 10_000;

/**
 * Keeps revocation reaching open sockets. Every `checkMs`, one query asks which of the
 * open sockets' sessions still belong to an active ADMIN (logout, a restore or reset
 * revoking every session, a deactivated or demoted user: on any instance, through the
 * database). A socket whose session ended receives no further event and is closed with
 * 4403, except that a subscription to one RESTORE or RESET job gets that job's final state
 * first (the restore that logged everybody out tells its own subscriber how it ended),
 * within a grace; meanwhile the socket runs no new operation.
 * Subscriptions are capped per socket and per user.
 */
export class SocketGuard {
  private readonly sockets = new Map<WebSocket, Watched>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private next?: Promise<void>;

  constructor(
    private readonly auth: AuthService,
    private readonly options: SocketGuardOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.options.checkMs);
    this.timer.unref();
    // A logout on this instance closes its sockets before its answer is sent.
    this.auth.onSessionsEnded(() => this.check());
  }

  stop(): void {
    clearInterval(this.timer);
  }

  watch(socket: WebSocket, identity: Identity): void {
    if (socket.readyState !== socket.OPEN) return; // gone while it authenticated
    this.sockets.set(socket, { identity, subscriptions: new Map() });
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Whether the socket may start an operation: watched, and its session not ended (even within a grace). */
  allows(socket: WebSocket): boolean {
    const watched = this.sockets.get(socket);
    return watched !== undefined && watched.revokedAt === undefined;
  }

  /** Counts a new subscription; TOO_MANY_REQUESTS past a cap. */
  subscribe(socket: WebSocket, id: string): TooManyRequestsError | undefined {
    const watched = this.sockets.get(socket);
    if (!watched) return undefined;
    if (watched.subscriptions.size >= this.options.maxSubscriptionsPerSocket) {
      return new TooManyRequestsError(`At most ${this.options.maxSubscriptionsPerSocket} subscriptions per connection`, 1);
    }
    let forUser = 0;
    for (const other of this.sockets.values()) if (other.identity.userId === watched.identity.userId) forUser += other.subscriptions.size;
    if (forUser >= this.options.maxSubscriptionsPerUser) {
      return new TooManyRequestsError(`At most ${this.options.maxSubscriptionsPerUser} subscriptions per user`, 1);
    }
    watched.subscriptions.set(id, false);
    return undefined;
  }

  unsubscribe(socket: WebSocket, id: string): void {
    this.sockets.get(socket)?.subscriptions.delete(id);
  }

  /** The job stream of one subscription, cut off as soon as the socket's session ends (see the class). */
  guard(socket: WebSocket, id: string, jobId: string | undefined, source: AsyncIterable<Job>): AsyncIterable<Job> {
    const watched = this.sockets.get(socket);
    return (async function* () {
      for await (const job of source) {
        const revoking = jobId !== undefined && job.id === jobId && REVOKING_KINDS.has(job.kind);
        if (revoking) watched?.subscriptions.set(id, true);
        if (!watched?.revokedAt) {
          yield job;
        } else if (revoking && FINISHED_STATUSES.has(job.status)) {
          yield job; // how the restore (or reset) that ended the session ended
          return;
        } else if (!revoking) {
          return; // nothing more for a session that ended
        }
      }
    })();
  }

  /**
   * One query for every open socket; closes those whose session ended (after their grace).
   * A call while a check runs waits for one that starts after it (it may know of a new logout).
   */
  check(): Promise<void> {
    if (!this.running) {
      this.running = this.checkOnce().finally(() => (this.running = undefined));
      return this.running;
    }
    this.next ??= this.running.then(() => {
      this.next = undefined;
      return this.check();
    });
    return this.next;
  }

  private async checkOnce(): Promise<void> {
    if (this.sockets.size === 0) return;
    try {
      const live = await this.auth.liveSessions([...this.sockets.values()].map((w) => w.identity.jwtId));
      const now = Date.now();
      for (const [socket, watched] of this.sockets) {
        if (live.has(watched.identity.jwtId)) continue;
        watched.revokedAt ??= now;
        const waitingForAJob = [...watched.subscriptions.values()].some((revoking) => revoking);
        if (waitingForAJob && now - watched.revokedAt < (this.options.graceMs ?? DEFAULT_GRACE_MS)) continue;
        this.sockets.delete(socket);
        this.logger.info({ event: 'socket_session_ended', userId: watched.identity.userId }, 'closing a socket whose session ended');
        socket.close(SESSION_ENDED_CLOSE_CODE, 'FORBIDDEN: the session ended (logged out, disabled or no longer an administrator)');
        // A client that ignores the close frame is cut off, not left sending for ws's 30 s close timeout.
        setTimeout(() => socket.terminate(), 1000).unref();
      }
    } catch (err) {
      this.logger.warn({ err }, 'could not check the sessions of open sockets; trying again');
    }
  }
}
