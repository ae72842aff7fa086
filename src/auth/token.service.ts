import jwt from 'jsonwebtoken';
import { UnauthenticatedError } from '../errors/kiln-errors';

export interface TokenClaims {
  userId: string;
  /** The StaffSession's jwtId: revoking the session revokes the token. */
  jwtId: string;
}

const ISSUER = 'kiln';
const ALGORITHM = 'HS256';

/** Signs and checks Kiln's bearer tokens (HS256 JWTs bound to a StaffSession). */
export class TokenService {
  constructor(
    private readonly secret: string,
    readonly ttlSeconds: number,
  ) {}

  sign(claims: TokenClaims): { token: string; expiresAt: Date } {
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000);
    const token = jwt.sign({}, this.secret, {
      algorithm: ALGORITHM,
      issuer: ISSUER,
      subject: claims.userId,
      jwtid: claims.jwtId,
      expiresIn: this.ttlSeconds,
    });
    return { token, expiresAt };
  }

  /** Throws UnauthenticatedError for a malformed, tampered, foreign or expired token. */
  verify(token: string): TokenClaims {
    try {
      const payload = jwt.verify(token, this.secret, { algorithms: [ALGORITHM], issuer: ISSUER });
      if (typeof payload === 'string' || !payload.sub || !payload.jti) throw new Error('missing claims');
      return { userId: payload.sub, jwtId: payload.jti };
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) {
        throw new UnauthenticatedError('Token expired: log in again', { reason: 'TOKEN_EXPIRED' });
      }
      throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    }
  }
}

/** The token in an `Authorization: Bearer …` header (or a bare token), if any. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match ? match[1] : header.trim();
}
