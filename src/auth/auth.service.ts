import { In, IsNull, type DataSource } from 'typeorm';
import { Tarpit } from '../http/tarpit';
import { StaffSession, User, UserLoginHistory } from '../domain';
import { Role } from '../domain/lending-enums';
import { newId } from '../db/ids';
import { BadUserInputError, ForbiddenError, TooManyRequestsError, UnauthenticatedError } from '../errors/kiln-errors';
import type { Logger } from '../logging/logger';
import type { Identity, RequestMeta } from './identity';
import type { LoginLimiter } from './login-limiter';
import type { PasswordService } from './password.service';
import type { SessionReader } from './session-reader';
import { bearerToken, type TokenService } from './token.service';

const MAX_EMAIL_LENGTH = 320;
const MAX_PASSWORD_LENGTH = 256;

/** Why a login failed: kept in the app's UserLoginHistory and Kiln's log, never told the client. */
export enum LoginFailure {
  INVALID_PASSWORD = 'INVALID_PASSWORD',
  ACCOUNT_DISABLED = 'ACCOUNT_DISABLED',
  NOT_ADMIN = 'NOT_ADMIN',
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: User;
}

/** Login, logout and per-request authentication against StaffSession rows. */
export class AuthService {
  private readonly endedListeners: Array<() => Promise<void>> = [];
  /** Requests (by their meta, one object per request) whose refusal was already held. */
  private readonly heldRequests = new WeakSet<RequestMeta>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly tokens: TokenService,
    private readonly logger: Logger,
    private readonly passwords: PasswordService,
    private readonly limiter: LoginLimiter,
    /** Session and account reads that do not wait on a restore's locks. */
    private readonly sessions: SessionReader,
    /** Holds a refused login until it may be tried again, so a loop that ignores Retry-After slows down. */
    private readonly tarpit: Tarpit = new Tarpit(),
  ) {}

  /**
   * One answer for every failure (unknown email, wrong password, disabled or non-admin
   * account), after one password check of the same cost: neither the content nor the
   * time of a refusal says which. Rate limits answer TOO_MANY_REQUESTS alike for any email.
   */
  async login(email: string, password: string, meta: RequestMeta): Promise<LoginResult> {
    try {
      return await this.checkLogin(email, password, meta);
    } catch (err) {
      // Once per request: a document of many aliased logins takes one place in the tarpit, not many.
      if (err instanceof TooManyRequestsError && !this.heldRequests.has(meta)) {
        this.heldRequests.add(meta);
        await this.tarpit.hold(err.retryAfterSeconds * 1000);
      }
      throw err;
    }
  }

  private async checkLogin(email: string, password: string, meta: RequestMeta): Promise<LoginResult> {
    if (email.length > MAX_EMAIL_LENGTH) throw new BadUserInputError(`email must be at most ${MAX_EMAIL_LENGTH} characters`);
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw new BadUserInputError(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
    }
    const address = meta.ipAddress ?? 'unknown';
    // A full queue of password checks refuses at once: no limiter or user query for a login that cannot be checked.
    this.passwords.assertAvailable();
    await this.limiter.admit(address, email);

    const user = await this.sessions.loginAccount(email.trim());
    // Only an active ADMIN's password is checked: a staff password of the lending app is never confirmed.
    const failure = !user ? null : !user.isActive ? LoginFailure.ACCOUNT_DISABLED : user.role !== Role.ADMIN ? LoginFailure.NOT_ADMIN : null;
    const candidate = user && !failure ? user : null;
    const matches = candidate ? await this.passwords.verify(password, candidate.passwordHash) : await this.passwords.verifyNothing(password);
    if (!candidate || !matches) {
      const reason = failure ?? (user ? LoginFailure.INVALID_PASSWORD : 'UNKNOWN_EMAIL');
      if (user) await this.recordAttempt(user.id, meta, failure ?? LoginFailure.INVALID_PASSWORD);
      this.logger.info({ event: 'login_failed', userId: user?.id, reason }, 'login failed');
      throw new UnauthenticatedError('Invalid email or password', { reason: 'INVALID_CREDENTIALS' });
    }
    await this.limiter.succeeded(address, email);

    const jwtId = newId();
    const signed = this.tokens.sign({ userId: candidate.id, jwtId });
    // A hash of another cost (the app's 10, an older setting) is replaced while the password is at hand.
    const passwordHash = this.passwords.needsRehash(candidate.passwordHash) ? await this.passwords.hash(password) : undefined;
    await this.dataSource.transaction(async (tx) => {
      await tx.insert(StaffSession, {
        id: newId(),
        userId: candidate.id,
        jwtId,
        userAgent: meta.userAgent,
        ipAddress: meta.ipAddress,
        expiresAt: signed.expiresAt,
      });
      await tx.insert(UserLoginHistory, {
        id: newId(),
        userId: candidate.id,
        ipAddress: meta.ipAddress,
        userAgent: meta.userAgent,
        success: true,
      });
      await tx.update(User, { id: candidate.id }, {
        lastLoginAt: new Date(),
        updatedAt: new Date(),
        loginCount: () => '"loginCount" + 1',
        ...(passwordHash ? { passwordHash } : {}),
      });
    });
    this.logger.info({ event: 'login', userId: candidate.id, rehashed: passwordHash !== undefined }, 'admin logged in');
    return { ...signed, user: await this.dataSource.getRepository(User).findOneByOrFail({ id: candidate.id }) };
  }

  findUser(userId: string): Promise<User | null> {
    return this.dataSource.getRepository(User).findOneBy({ id: userId });
  }

  /** The users of `userIds` that exist, in one query, in no particular order. */
  findUsers(userIds: readonly string[]): Promise<User[]> {
    return userIds.length ? this.dataSource.getRepository(User).findBy({ id: In([...userIds]) }) : Promise.resolve([]);
  }

  async currentUser(identity: Identity): Promise<User> {
    const user = await this.dataSource.getRepository(User).findOneBy({ id: identity.userId });
    if (!user) throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    return user;
  }

  /** Whether the header carries a token this gateway signed and that has not expired (no database work). */
  carriesSignedToken(authorization: string | undefined): boolean {
    const token = bearerToken(authorization);
    if (!token) return false;
    try {
      this.tokens.verify(token);
      return true;
    } catch {
      return false;
    }
  }

  /** Called (and awaited) after this instance ends sessions: open sockets are checked at once. */
  onSessionsEnded(listener: () => Promise<void>): void {
    this.endedListeners.push(listener);
  }

  /** Revokes the caller's session; its token stops working at once, on its open sockets too. */
  async logout(identity: Identity): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(StaffSession)
      .update({ jwtId: identity.jwtId, revokedAt: IsNull() }, { revokedAt: new Date() });
    await this.sessionsEnded();
    return (result.affected ?? 0) > 0;
  }

  private async sessionsEnded(): Promise<void> {
    await Promise.all(this.endedListeners.map((listener) => listener().catch(() => undefined)));
  }

  /**
   * Of these token ids, those whose session is still open and belongs to an active,
   * undeleted ADMIN: one query for every open socket at once.
   */
  async liveSessions(jwtIds: string[]): Promise<Set<string>> {
    if (jwtIds.length === 0) return new Set();
    return this.sessions.liveSessions(jwtIds);
  }

  /** Revokes every open session (after a restore or reset everybody logs in again). */
  async revokeAllSessions(): Promise<number> {
    const result = await this.dataSource
      .getRepository(StaffSession)
      .update({ revokedAt: IsNull() }, { revokedAt: new Date() });
    await this.sessionsEnded();
    return result.affected ?? 0;
  }

  /**
   * Checks a bearer token against its session and user.
   * Token or session problems are UNAUTHENTICATED; a disabled user is FORBIDDEN.
   * Roles are the auth checker's business.
   */
  async authenticate(token: string): Promise<Identity> {
    const claims = this.tokens.verify(token);
    const session = await this.sessions.session(claims.jwtId);
    if (!session || session.userId !== claims.userId) {
      throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    }
    if (session.revokedAt) throw new UnauthenticatedError('Session was logged out: log in again', { reason: 'SESSION_REVOKED' });
    if (session.expiresAt.getTime() <= Date.now()) {
      throw new UnauthenticatedError('Session expired: log in again', { reason: 'SESSION_EXPIRED' });
    }
    if (session.deleted) throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    if (!session.isActive) throw new ForbiddenError('This account is disabled', { reason: 'ACCOUNT_DISABLED' });
    return { userId: session.userId, role: session.role as Role, jwtId: claims.jwtId };
  }

  private async recordAttempt(userId: string, meta: RequestMeta, failure: LoginFailure): Promise<void> {
    await this.dataSource.getRepository(UserLoginHistory).insert({
      id: newId(),
      userId,
      ipAddress: meta.ipAddress,
      userAgent: meta.userAgent,
      success: false,
      failureReason: failure,
    });
  }
}
