import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger';

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
