import { APP_SCHEMA } from '../db/schemas';
import { queryOne, type SqlRunner } from '../db/sql';

/**
 * What a server and Kiln's role must offer for a change journal read by logical decoding
 * (pgoutput over the replication protocol): `wal_level = logical`, the right to replicate, a free
 * replication slot and WAL sender, and the right to publish the lending tables.
 */
export interface LogicalDecodingFacts {
  cockroachDb: boolean;
  walLevel: string;
  /** The login role: the one a replication connection authenticates as. */
  role: string;
  /** Superuser, REPLICATION, or a member of RDS's rds_replication. */
  canReplicate: boolean;
  maxSlots: number;
  /** Slots in use, Kiln's own not counted (it is reused). */
  slotsInUse: number;
  maxWalSenders: number;
  /** WAL senders in use, the one streaming Kiln's own slot not counted. */
  walSendersInUse: number;
  /** CREATE on the database: needed for CREATE PUBLICATION. */
  canCreatePublication: boolean;
  /** Lending tables the role does not own: a publication FOR TABLE needs their owner. */
  tablesNotOwned: string[];
  /** Lending tables this database does not have: not the app's database, or not deployed yet. */
  tablesMissing: string[];
  /** server_version_num: 14 and later (pgoutput's messages option, which the decoding library always sends). */
  serverVersion: number;
  /** Lending tables whose REPLICA IDENTITY is not their primary key (FULL, NOTHING, or DEFAULT without one): replay keys rows by it. */
  tablesWithoutKeyIdentity: string[];
}

/** Reads the facts from the server `db` is connected to. `ownSlot`: the slot Kiln would use, if it exists already. */
export async function readLogicalDecodingFacts(db: SqlRunner, tables: readonly string[], ownSlot: string | null = null): Promise<LogicalDecodingFacts> {
  const { version } = (await queryOne<{ version: string }>(db, 'SELECT version() AS version'))!;
  if (/cockroach/i.test(version)) {
    return { cockroachDb: true, walLevel: '', role: '', canReplicate: false, maxSlots: 0, slotsInUse: 0, maxWalSenders: 0, walSendersInUse: 0, canCreatePublication: false, tablesNotOwned: [], tablesMissing: [], serverVersion: 0, tablesWithoutKeyIdentity: [] };
  }
  const facts = await queryOne<Omit<LogicalDecodingFacts, 'cockroachDb'>>(
    db,
    `SELECT current_setting('wal_level') AS "walLevel",
            current_setting('server_version_num')::int AS "serverVersion",
            coalesce((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
                       WHERE c.relnamespace = '${APP_SCHEMA}'::regnamespace AND c.relname = ANY($1)
                         AND NOT (c.relreplident = 'd' AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))), '{}') AS "tablesWithoutKeyIdentity",
            session_user AS role,
            (SELECT r.rolsuper OR r.rolreplication FROM pg_roles r WHERE r.rolname = session_user)
              OR EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(session_user, g.oid, 'MEMBER')) AS "canReplicate",
            current_setting('max_replication_slots')::int AS "maxSlots",
            (SELECT count(*) FROM pg_replication_slots WHERE slot_name IS DISTINCT FROM $2)::int AS "slotsInUse",
            current_setting('max_wal_senders')::int AS "maxWalSenders",
            (SELECT count(*) FROM pg_stat_replication
              WHERE pid IS DISTINCT FROM (SELECT active_pid FROM pg_replication_slots WHERE slot_name = $2))::int AS "walSendersInUse",
            has_database_privilege(current_database(), 'CREATE') AS "canCreatePublication",
            coalesce((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
                       WHERE c.relnamespace = '${APP_SCHEMA}'::regnamespace AND c.relname = ANY($1) AND NOT pg_has_role(current_user, c.relowner, 'USAGE')), '{}') AS "tablesNotOwned",
            coalesce((SELECT array_agg(t ORDER BY t) FROM unnest($1::text[]) t
                       WHERE to_regclass(format('%I.%I', '${APP_SCHEMA}', t)) IS NULL), '{}') AS "tablesMissing"`,
    [tables, ownSlot],
  );
  return { cockroachDb: false, ...facts! };
}

/**
 * What the server lacks for the journal, each a sentence that says how to give it; empty when
 * nothing is missing. Managed services name their own switch for wal_level.
 */
export function missingForJournal(facts: LogicalDecodingFacts): string[] {
  if (facts.cockroachDb) {
    return ['CockroachDB has no PostgreSQL logical decoding: use its managed backups, which restore to a point in time'];
  }
  const missing: string[] = [];
  if (facts.serverVersion > 0 && facts.serverVersion < 140000) missing.push(`PostgreSQL ${Math.floor(facts.serverVersion / 10000)} is too old for the journal: it needs PostgreSQL 14 or later`);
  if (facts.walLevel !== 'logical') {
    missing.push(
      `wal_level is ${facts.walLevel}, logical decoding needs logical (set wal_level = logical and restart the server; ` +
        'Amazon RDS: rds.logical_replication = 1, Cloud SQL: cloudsql.logical_decoding = on)',
    );
  }
  if (!facts.canReplicate) missing.push(`the role ${facts.role} may not replicate (ALTER ROLE ${facts.role} WITH REPLICATION; Amazon RDS: GRANT rds_replication TO ${facts.role})`);
  if (facts.slotsInUse >= facts.maxSlots) missing.push(`no replication slot is free (max_replication_slots = ${facts.maxSlots}, ${facts.slotsInUse} in use)`);
  if (facts.walSendersInUse >= facts.maxWalSenders) missing.push(`no WAL sender is free (max_wal_senders = ${facts.maxWalSenders}, ${facts.walSendersInUse} in use)`);
  if (!facts.canCreatePublication) missing.push(`the role ${facts.role} may not create a publication in this database (GRANT CREATE ON DATABASE … TO ${facts.role})`);
  if (facts.tablesMissing.length > 0) {
    missing.push(`this database has no ${facts.tablesMissing.map((t) => `"${t}"`).join(', ')}: the journal follows the lending app's own database`);
  }
  if (facts.tablesWithoutKeyIdentity.length > 0) {
    missing.push(
      `${facts.tablesWithoutKeyIdentity.map((t) => `"${t}"`).join(', ')} ${facts.tablesWithoutKeyIdentity.length === 1 ? 'is' : 'are'} not replicated by primary key ` +
        '(REPLICA IDENTITY DEFAULT with a primary key, as Prisma makes them): the journal could not find their rows again',
    );
  }
  if (facts.tablesNotOwned.length > 0) {
    missing.push(`the role ${facts.role} does not own ${facts.tablesNotOwned.map((t) => `"${t}"`).join(', ')}, which a publication of them needs`);
  }
  return missing;
}
