import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger';
import { InternalError, type KilnError } from './kiln-errors';
import { toKilnError } from './to-kiln-error';

export interface MaskedError {
  /** What the client gets instead of the error's own message. */
  message: string;
  /** Also in the log line, so an admin can find the details the client did not get. */
  reference: string;
}

/**
 * Logs an unexpected error (message and stack) under a fresh reference and returns the
 * masked message a client gets: the details never leave the server, the reference does.
 */
export function reportUnexpected(logger: Logger, err: unknown, msg: string, fields: Record<string, unknown> = {}): MaskedError {
  const reference = randomUUID();
  logger.error({ ...fields, err, reference }, msg);
  return { message: `Internal server error (reference ${reference})`, reference };
}

/**
 * A failure as the client may see it: Kiln's own errors and the ones toKilnError maps as they are,
 * anything else logged (reportUnexpected) and masked as an InternalError.
 */
export function clientError(logger: Logger, err: unknown, msg: string, fields: Record<string, unknown> = {}): KilnError {
  const known = toKilnError(err);
  if (known) return known;
  const masked = reportUnexpected(logger, err, msg, fields);
  return new InternalError(masked.message, masked.reference);
}
