import DataLoader from 'dataloader';
import type { User } from '../domain';
import type { AuthService } from './auth.service';

/** Users by id, for field resolvers (Job.requestedBy, BackupRecord.createdBy, ...). */
export type UserLoader = DataLoader<string, User | null>;

/**
 * One per GraphQL request: the users a list's field resolvers ask for in one tick are read
 * with one query, not one each. `cache: false` for a subscription, which lives for hours:
 * each event batches its lookups but reads the users as they are then.
 */
export function createUserLoader(auth: AuthService, options: { cache?: boolean } = {}): UserLoader {
  return new DataLoader<string, User | null>(
    async (ids) => {
      const byId = new Map((await auth.findUsers([...new Set(ids)])).map((u) => [u.id, u]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    { cache: options.cache ?? true },
  );
}
