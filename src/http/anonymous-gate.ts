import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '../errors/kiln-errors';
import type { Tarpit } from './tarpit';

/**
 * Requests without a token this gateway signed (logins, mostly; a made-up Authorization header
 * counts as none) per client address and second, counted in this instance's memory and refused
 * before their body is read or parsed: a tight loop of anonymous requests, each cheap on its
 * own, cannot take the event loop from the admins. Requests with a signed token pass.
 * A refusal is answered when the client may try again (the tarpit; at most 1 s later).
 */
export function anonymousGate(perSecond: number, signed: (authorization: string | undefined) => boolean, tarpit: Tarpit): RequestHandler {
  const limiter = new RateLimiterMemory({ keyPrefix: 'anonymous', points: perSecond, duration: 1 });
  return (req, res, next) => {
    if (signed(req.headers.authorization)) return next();
    limiter.consume(req.ip ?? 'unknown').then(
      () => next(),
      async (err: unknown) => {
        if (!(err instanceof RateLimiterRes)) return next(err);
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        // A full tarpit answers at once and cuts the connection: the next request costs a handshake.
        if (tarpit.full) res.set('Connection', 'close');
        else await tarpit.hold(err.msBeforeNext);
        if (res.destroyed || res.headersSent) return;
        res
          .status(429)
          .set('Retry-After', String(seconds))
          .json({ errors: [{ message: 'Too many requests without a token from this address', extensions: { code: ErrorCode.TOO_MANY_REQUESTS, retryAfterSeconds: seconds } }] });
      },
    );
  };
}
