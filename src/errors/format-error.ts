import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ArgumentValidationError } from 'type-graphql';
import type { Logger } from '../logging/logger';
import { ErrorCode } from './kiln-errors';
import { toKilnError } from './to-kiln-error';
import { reportUnexpected } from './unexpected-error';

/** Codes that graphql-js and Apollo produce for malformed requests: safe to show as they are. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** Longest message a client gets: graphql-js puts the whole offending value into some. */
const MAX_MESSAGE_CHARS = 300;

function short(message: string): string {
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length - MAX_MESSAGE_CHARS} more characters left out)` : message;
}

/**
 * Apollo's formatError: Kiln's own errors (and what toKilnError makes of other modules')
 * and request errors pass through (shortened); class-validator failures become
 * BAD_USER_INPUT; anything else is masked as INTERNAL with a reference to its log line.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    // A subscription's stream error reaches graphql-ws wrapped without a path: unwrap it too.
    const known = toKilnError(original) ?? (original instanceof GraphQLError ? toKilnError(original.originalError) : undefined);
    if (known) {
      return { message: short(known.message), locations: formatted.locations, path: formatted.path, extensions: known.extensions };
    }
    if (original instanceof ArgumentValidationError) {
      const fields = original.extensions.validationErrors.map((v) => ({
        field: v.property,
        problems: Object.values(v.constraints ?? {}),
      }));
      // One field wrong: also `field`, as the services' BadUserInputError names it (the checks moved here from them).
      return {
        message: `Invalid input: ${fields.map((f) => `${f.field} (${f.problems.join('; ')})`).join(', ')}`,
        path: formatted.path,
        extensions: { code: ErrorCode.BAD_USER_INPUT, ...(fields.length === 1 ? { field: fields[0].field } : {}), fields },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code) && !formatted.path) {
      return { message: short(formatted.message), locations: formatted.locations, extensions: { code } };
    }
    if (code === 'BAD_USER_INPUT') {
      // Variable coercion errors ("Int cannot represent ...") reach here with a path-less code.
      return { message: short(formatted.message), locations: formatted.locations, path: formatted.path, extensions: { code } };
    }
    const { message, reference } = reportUnexpected(logger, original, 'unexpected error', { path: formatted.path });
    return { message, path: formatted.path, extensions: { code: ErrorCode.INTERNAL, reference } };
  };
}
