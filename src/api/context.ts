import type { Identity, RequestMeta } from '../auth/identity';
import type { UserLoader } from '../auth/user-loader';
import type { KilnError } from '../errors/kiln-errors';
import type { Job } from '../jobs/job.entity';

/** What every resolver sees, over HTTP and over graphql-ws alike. */
export interface KilnContext {
  /** Set when the request carried a valid token. */
  identity?: Identity;
  /** Why a token that was sent is not accepted; raised only where auth is needed. */
  authError?: KilnError;
  meta: RequestMeta;
  /** Base URL for links in responses (PUBLIC_URL, or scheme and Host of the request). */
  baseUrl: string;
  /** Users by id for field resolvers, batched per request. */
  users: UserLoader;
  /** Source of jobProgress events (graphql-ws operations only). */
  jobStream?: (jobId?: string) => AsyncIterable<Job>;
}

/** The caller of an @Authorized resolver (the auth checker guarantees it is set). */
export function caller(ctx: KilnContext): Identity {
  if (!ctx.identity) throw new Error('caller() used on a resolver without @Authorized');
  return ctx.identity;
}
