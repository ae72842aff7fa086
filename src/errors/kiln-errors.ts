import { GraphQLError } from 'graphql';

/** The stable `extensions.code` values clients may branch on. */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  MAINTENANCE_REQUIRED = 'MAINTENANCE_REQUIRED',
  BACKUP_CORRUPT = 'BACKUP_CORRUPT',
  STORAGE_UNAVAILABLE = 'STORAGE_UNAVAILABLE',
  TOO_MANY_REQUESTS = 'TOO_MANY_REQUESTS',
  INTERNAL = 'INTERNAL',
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  MAINTENANCE_REQUIRED: 409,
  BACKUP_CORRUPT: 422,
  STORAGE_UNAVAILABLE: 503,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
};

/**
 * Base of every error Kiln shows a client. The message is written for the
 * client; `details` become extra extensions (never secrets, never stacks).
 */
export abstract class KilnError extends GraphQLError {
  abstract readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode, details: Record<string, unknown> = {}) {
    super(message, { extensions: { ...details, code } });
    this.name = new.target.name;
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

export class UnauthenticatedError extends KilnError {
  readonly code = ErrorCode.UNAUTHENTICATED;
  constructor(message = 'Authentication required: send a valid bearer token', details?: Record<string, unknown>) {
    super(message, ErrorCode.UNAUTHENTICATED, details);
  }
}

export class ForbiddenError extends KilnError {
  readonly code = ErrorCode.FORBIDDEN;
  constructor(message = 'This operation is for administrators only', details?: Record<string, unknown>) {
    super(message, ErrorCode.FORBIDDEN, details);
  }
}

export class BadUserInputError extends KilnError {
  readonly code = ErrorCode.BAD_USER_INPUT;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, ErrorCode.BAD_USER_INPUT, details);
  }
}

export class NotFoundError extends KilnError {
  readonly code = ErrorCode.NOT_FOUND;
  constructor(what: string, id: string) {
    super(`${what} ${JSON.stringify(id)} does not exist`, ErrorCode.NOT_FOUND, { id });
  }
}

export class ConflictError extends KilnError {
  readonly code = ErrorCode.CONFLICT;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, ErrorCode.CONFLICT, details);
  }
}

export class MaintenanceRequiredError extends KilnError {
  readonly code = ErrorCode.MAINTENANCE_REQUIRED;
  constructor(message = 'Turn maintenance mode on first (setMaintenanceMode(enabled: true))') {
    super(message, ErrorCode.MAINTENANCE_REQUIRED);
  }
}

export class BackupCorruptError extends KilnError {
  readonly code = ErrorCode.BACKUP_CORRUPT;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, ErrorCode.BACKUP_CORRUPT, details);
  }
}

export class StorageUnavailableError extends KilnError {
  readonly code = ErrorCode.STORAGE_UNAVAILABLE;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, ErrorCode.STORAGE_UNAVAILABLE, details);
  }
}

export class TooManyRequestsError extends KilnError {
  readonly code = ErrorCode.TOO_MANY_REQUESTS;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, ErrorCode.TOO_MANY_REQUESTS, { retryAfterSeconds });
  }
}

/**
 * Something unexpected, already logged under `reference` (see reportUnexpected): thrown on so the
 * same masked message and reference reach every place that shows the failure.
 */
export class InternalError extends KilnError {
  readonly code = ErrorCode.INTERNAL;
  constructor(message: string, reference: string) {
    super(message, ErrorCode.INTERNAL, { reference });
  }
}
