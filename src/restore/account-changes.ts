import type { PoolClient } from 'pg';

/** Login accounts a restore adds, removes, re-enables or makes ADMIN (the app's staff log in with them). */
export interface AccountChanges {
  added: AccountRef[];
  removed: AccountRef[];
  reenabled: AccountRef[];
  madeAdmin: AccountRef[];
}

export interface AccountRef {
  email: string;
  role: string;
}

const BEFORE = 'pg_temp.kiln_accounts_before';
const BEFORE_NAME = 'kiln_accounts_before';

/** Inside the restore's transaction, before the load: remembers the accounts as they are. */
export async function rememberAccounts(client: PoolClient): Promise<void> {
  await client.query(`CREATE TEMP TABLE ${BEFORE_NAME} ON COMMIT DROP AS SELECT id, email, role::text AS role, "isActive", "deletedAt" FROM "User"`);
}

/** After the load, in the same transaction: what changed among the accounts that can log in. */
export async function accountChanges(client: PoolClient): Promise<AccountChanges> {
  const { rows } = await client.query<{ change: keyof AccountChanges; email: string; role: string }>(
    `SELECT 'added' AS change, n.email, n.role::text AS role FROM "User" n LEFT JOIN ${BEFORE} o ON o.id = n.id WHERE o.id IS NULL
     UNION ALL
     SELECT 'removed', o.email, o.role FROM ${BEFORE} o LEFT JOIN "User" n ON n.id = o.id WHERE n.id IS NULL
     UNION ALL
     SELECT 'reenabled', n.email, n.role::text FROM "User" n JOIN ${BEFORE} o ON o.id = n.id
      WHERE n."isActive" AND n."deletedAt" IS NULL AND (NOT o."isActive" OR o."deletedAt" IS NOT NULL)
     UNION ALL
     SELECT 'madeAdmin', n.email, n.role::text FROM "User" n JOIN ${BEFORE} o ON o.id = n.id WHERE n.role = 'ADMIN' AND o.role <> 'ADMIN'
     ORDER BY 1, 2`,
  );
  const changes: AccountChanges = { added: [], removed: [], reenabled: [], madeAdmin: [] };
  for (const r of rows) changes[r.change].push({ email: r.email, role: r.role });
  return changes;
}

const LISTED = 10;
const WORDS: Record<keyof AccountChanges, string> = { added: 'added', removed: 'removed', reenabled: 're-enabled', madeAdmin: 'made ADMIN' };

/** For the job message: "login accounts added 1 (x@y ADMIN); made ADMIN 1 (…)", or null when none changed. */
export function describeAccountChanges(changes: AccountChanges): string | null {
  const parts = (Object.keys(WORDS) as Array<keyof AccountChanges>)
    .filter((k) => changes[k].length > 0)
    .map((k) => {
      const shown = changes[k].slice(0, LISTED).map((a) => `${a.email} ${a.role}`).join(', ');
      const more = changes[k].length > LISTED ? ` and ${changes[k].length - LISTED} more` : '';
      return `${WORDS[k]} ${changes[k].length} (${shown}${more})`;
    });
  return parts.length ? `login accounts ${parts.join('; ')}` : null;
}
