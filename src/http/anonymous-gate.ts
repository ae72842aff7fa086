import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '../errors/kiln-errors';

/** Refused requests held before their answer at once, per instance; past it, they are answered (and cut) at once. */
const MAX_HELD = 1000;
/** Longest an answer is held. */
const MAX_HOLD_MS = 1000;

/**
 * Requests without a token this gateway signed (logins, mostly; a made-up Authorization header
 * counts as none) per client address and second, counted in this instance's memory and refused
 * before their body is read or parsed: a tight loop of anonymous requests, each cheap on its
 * own, cannot take the event loop from the admins. Requests with a signed token pass.
 * A refusal is answered when the client may try again (at most 1 s later; a tarpit): a client
 * that ignores Retry-After then sends about one request a second per connection instead of
 * thousands, and costs the gateway next to nothing while it waits.
 */
export function anonymousGate(perSecond: number, signed: (authorization: string | undefined) => boolean): RequestHandler {
  const limiter = new RateLimiterMemory({ keyPrefix: 'anonymous', points: perSecond, duration: 1 });
  let held = 0;
  return (req, res, next) => {
    if (signed(req.headers.authorization)) return next();
    limiter.consume(req.ip ?? 'unknown').then(
      () => next(),
      (err: unknown) => {
        if (!(err instanceof RateLimiterRes)) return next(err);
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        const refuse = () => {
          if (res.destroyed || res.headersSent) return;
          res
            .status(429)
            .set('Retry-After', String(seconds))
            .json({ errors: [{ message: 'Too many requests without a token from this address', extensions: { code: ErrorCode.TOO_MANY_REQUESTS, retryAfterSeconds: seconds } }] });
        };
        if (held >= MAX_HELD) {
          res.set('Connection', 'close');
          return refuse();
        }
        held++;
        const timer = setTimeout(refuse, Math.min(err.msBeforeNext, MAX_HOLD_MS));
        res.once('close', () => {
          clearTimeout(timer);
          held--;
        });
      },
    );
  };
}
