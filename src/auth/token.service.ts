import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { UnauthenticatedError } from '../errors/kiln-errors';

export interface TokenClaims {
  userId: string;
  /** The StaffSession's jwtId: revoking the session revokes the token. */
  jwtId: string;
}

const ISSUER = 'kiln';
const ALGORITHM = 'HS256';
const DOWNLOAD_AUDIENCE = 'kiln-download';

/**
 * The HMAC key, made once. Given the secret as a string, jsonwebtoken first tries to read it as a
 * PEM or DER public key (OpenSSL's decoders, failing) on every sign and verify: ~2 ms of CPU each,
 * two verifies a request (the anonymous gate, then authentication), most of an idle request's cost.
 */
function hmacKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/** Signs and checks Kiln's bearer tokens (HS256 JWTs bound to a StaffSession). */
export class TokenService {
  private readonly key: KeyObject;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    this.key = hmacKey(secret);
  }

  sign(claims: TokenClaims): { token: string; expiresAt: Date } {
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000);
    const token = jwt.sign({}, this.key, {
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
      const payload = jwt.verify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER });
      // A download link's token (audience set) is never a session token.
      if (typeof payload === 'string' || !payload.sub || !payload.jti || payload.aud) throw new Error('missing claims');
      return { userId: payload.sub, jwtId: payload.jti };
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) {
        throw new UnauthenticatedError('Token expired: log in again', { reason: 'TOKEN_EXPIRED' });
      }
      throw new UnauthenticatedError('Invalid token', { reason: 'TOKEN_INVALID' });
    }
  }
}

/**
 * Short-lived links for downloading one backup without other credentials:
 * HS256 tokens with their own audience, bound to the backup id.
 */
export class DownloadTokenService {
  private readonly key: KeyObject;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    this.key = hmacKey(secret);
  }

  sign(backupId: string): { token: string; expiresAt: Date } {
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000);
    const token = jwt.sign({}, this.key, {
      algorithm: ALGORITHM,
      issuer: ISSUER,
      audience: DOWNLOAD_AUDIENCE,
      subject: backupId,
      expiresIn: this.ttlSeconds,
    });
    return { token, expiresAt };
  }

  /** True when the token is a valid, unexpired link for exactly this backup. */
  allows(token: string, backupId: string): boolean {
    try {
      const payload = jwt.verify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER, audience: DOWNLOAD_AUDIENCE });
      return typeof payload !== 'string' && payload.sub === backupId;
    } catch {
      return false;
    }
  }
}

/** The token in an `Authorization: Bearer …` header (or a bare token), if any. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match ? match[1] : header.trim();
}
