import type { AuthChecker } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../errors/kiln-errors';
import type { KilnContext } from './context';

/**
 * `@Authorized()` needs a valid session; `@Authorized('ADMIN')` also the role.
 * The role comes from the user row at authentication time, not from the token.
 */
export const authChecker: AuthChecker<KilnContext> = ({ context }, roles) => {
  if (context.authError) throw context.authError;
  if (!context.identity) throw new UnauthenticatedError();
  if (roles.length > 0 && !roles.includes(context.identity.role)) throw new ForbiddenError();
  return true;
};
