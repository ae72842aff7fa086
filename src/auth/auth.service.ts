import bcrypt from 'bcryptjs';
import { IsNull, MoreThan, type DataSource } from 'typeorm';
import { StaffSession, User, UserLoginHistory } from '../domain';
import { Role } from '../domain/lending-enums';
import { newId } from '../db/ids';
import { BadUserInputError, ForbiddenError, UnauthenticatedError } from '../errors/kiln-errors';
import type { Logger } from '../logging/logger';
import type { Identity, RequestMeta } from './identity';
import type { TokenService } from './token.service';

export const LOCKOUT = { failures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
const MAX_EMAIL_LENGTH = 320;
const MAX_PASSWORD_LENGTH = 256;
/** Compared against when the email is unknown, so both paths cost one bcrypt. */
const DUMMY_HASH = bcrypt.hashSync('kiln-timing-equaliser', 10);

export enum LoginFailure {
  INVALID_PASSWORD = 'INVALID_PASSWORD',
  ACCOUNT_LOCKED = 'ACCOUNT_LOCKED',
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
  constructor(
    private readonly dataSource: DataSource,
    private readonly tokens: TokenService,
    private readonly logger: Logger,
  ) {}

  async login(email: string, password: string, meta: RequestMeta): Promise<LoginResult> {
    if (email.length > MAX_EMAIL_LENGTH) throw new BadUserInputError(`email must be at most ${MAX_EMAIL_LENGTH} characters`);
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw new BadUserInputError(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
    }
    const invalid = () => new UnauthenticatedError('Invalid email or password', { reason: 'INVALID_CREDENTIALS' });

    const user = await this.dataSource
      .getRepository(User)
      .createQueryBuilder('u')
      .where('lower(u.email) = lower(:email)', { email: email.trim() })
      .andWhere('u.deletedAt IS NULL')
      .getOne();
    if (!user) {
      await bcrypt.compare(password, DUMMY_HASH);
      this.logger.info({ event: 'login_failed', reason: 'UNKNOWN_EMAIL' }, 'login failed');
      throw invalid();
    }

    const lockedUntil = await this.lockedUntil(user.id);
    if (lockedUntil) {
      await this.recordAttempt(user.id, meta, LoginFailure.ACCOUNT_LOCKED);
      throw new UnauthenticatedError(
        `Account locked after ${LOCKOUT.failures} failed logins; try again after ${lockedUntil.toISOString()}`,
        { reason: 'ACCOUNT_LOCKED', lockedUntil: lockedUntil.toISOString() },
      );
    }
    if (!(await bcrypt.compare(password, user.passwordHash))) {
      await this.recordAttempt(user.id, meta, LoginFailure.INVALID_PASSWORD);
      this.logger.info({ event: 'login_failed', userId: user.id, reason: 'INVALID_PASSWORD' }, 'login failed');
      throw invalid();
    }
    if (!user.isActive) {
      await this.recordAttempt(user.id, meta, LoginFailure.ACCOUNT_DISABLED);
      throw new ForbiddenError('This account is disabled', { reason: 'ACCOUNT_DISABLED' });
    }
    if (user.role !== Role.ADMIN) {
      await this.recordAttempt(user.id, meta, LoginFailure.NOT_ADMIN);
      throw new ForbiddenError('Kiln is for administrators only', { reason: 'NOT_ADMIN' });
    }

    const jwtId = newId();
    const signed = this.tokens.sign({ userId: user.id, jwtId });
    await this.dataSource.transaction(async (tx) => {
      await tx.insert(StaffSession, {
        id: newId(),
        userId: user.id,
        jwtId,
        userAgent: meta.userAgent,
        ipAddress: meta.ipAddress,
        expiresAt: signed.expiresAt,
      });
      await tx.insert(UserLoginHistory, {
        id: newId(),
        userId: user.id,
        ipAddress: meta.ipAddress,
        userAgent: meta.userAgent,
        success: true,
      });
      await tx.update(User, { id: user.id }, { lastLoginAt: new Date(), updatedAt: new Date(), loginCount: () => '"loginCount" + 1' });
    });
    this.logger.info({ event: 'login', userId: user.id }, 'admin logged in');
    return { ...signed, user };
  }

  findUser(userId: string): Promise<User | null> {
    return this.dataSource.getRepository(User).findOneBy({ id: userId });
  }

  async currentUser(identity: Identity): Promise<User> {
    const user = await this.dataSource.getRepository(User).findOneBy({ id: identity.userId });
    if (!user) throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    return user;
  }

  /** Revokes the caller's session; its token stops working at once. */
  async logout(identity: Identity): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(StaffSession)
      .update({ jwtId: identity.jwtId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Revokes every open session (after a restore or reset everybody logs in again). */
  async revokeAllSessions(): Promise<number> {
    const result = await this.dataSource
      .getRepository(StaffSession)
      .update({ revokedAt: IsNull() }, { revokedAt: new Date() });
    return result.affected ?? 0;
  }

  /**
   * Checks a bearer token against its session and user.
   * Token or session problems are UNAUTHENTICATED; a disabled user is FORBIDDEN.
   * Roles are the auth checker's business.
   */
  async authenticate(token: string): Promise<Identity> {
    const claims = this.tokens.verify(token);
    const session = await this.dataSource.getRepository(StaffSession).findOne({
      where: { jwtId: claims.jwtId },
      relations: { user: true },
    });
    if (!session || session.userId !== claims.userId) {
      throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    }
    if (session.revokedAt) throw new UnauthenticatedError('Session was logged out: log in again', { reason: 'SESSION_REVOKED' });
    if (session.expiresAt.getTime() <= Date.now()) {
      throw new UnauthenticatedError('Session expired: log in again', { reason: 'SESSION_EXPIRED' });
    }
    const user = session.user;
    if (!user || user.deletedAt) throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    if (!user.isActive) throw new ForbiddenError('This account is disabled', { reason: 'ACCOUNT_DISABLED' });
    return { userId: user.id, role: user.role, jwtId: claims.jwtId };
  }

  /** The end of the current lock, if LOCKOUT.failures wrong passwords fell within the window. */
  private async lockedUntil(userId: string): Promise<Date | undefined> {
    const history = this.dataSource.getRepository(UserLoginHistory);
    const lastSuccess = await history.findOne({
      where: { userId, success: true },
      order: { loginAt: 'DESC' },
      select: { loginAt: true },
    });
    const since = new Date(Math.max(Date.now() - LOCKOUT.windowMs - LOCKOUT.lockMs, lastSuccess?.loginAt.getTime() ?? 0));
    const failures = await history.find({
      where: { userId, success: false, failureReason: LoginFailure.INVALID_PASSWORD, loginAt: MoreThan(since) },
      order: { loginAt: 'DESC' },
      take: LOCKOUT.failures,
      select: { loginAt: true },
    });
    if (failures.length < LOCKOUT.failures) return undefined;
    const newest = failures[0].loginAt.getTime();
    const oldest = failures[failures.length - 1].loginAt.getTime();
    if (newest - oldest > LOCKOUT.windowMs) return undefined;
    const until = new Date(newest + LOCKOUT.lockMs);
    return until.getTime() > Date.now() ? until : undefined;
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
