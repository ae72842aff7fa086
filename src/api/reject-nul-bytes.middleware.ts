import type { MiddlewareFn } from 'type-graphql';
import { BadUserInputError } from '../errors/kiln-errors';

/**
 * PostgreSQL cannot hold a NUL character in text, and nothing Kiln stores has one: an
 * argument carrying one (an id, an email, …) is bad input, said so before any query fails
 * on it with an error the client could only see as INTERNAL.
 */
export const rejectNulBytes: MiddlewareFn = async ({ args, info }, next) => {
  const field = firstNul(args);
  if (field !== undefined) {
    throw new BadUserInputError(`Argument ${field} of ${info.fieldName} contains a NUL character`, { field });
  }
  return (await next()) as unknown;
};

function firstNul(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path || '(value)' : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = firstNul(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
  } else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, inner] of Object.entries(value)) {
      const found = firstNul(inner, path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
