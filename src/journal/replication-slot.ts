import { createHash } from 'node:crypto';
import { APP_SCHEMA } from '../db/schemas';
import { query, queryOne, quoteIdent, type SqlRunner } from '../db/sql';

/**
 * Kiln's publication of the lending tables and its logical replication slot: the two server
 * objects the journal needs, named after the database (slots are per server, and several Kiln
 * databases may share one server). Neither changes a table: `prisma db push` does not see them.
 */
export interface JournalSlotNames {
  slot: string;
  publication: string;
}

export function journalSlotNames(database: string): JournalSlotNames {
  const tag = createHash('sha256').update(database).digest('hex').slice(0, 12);
  return { slot: `kiln_journal_${tag}`, publication: 'kiln_journal' };
}

export interface SlotState {
  active: boolean;
  /** Where the server will resume streaming from: the last position Kiln acknowledged. */
  confirmedFlushLsn: string | null;
  /** WAL the slot holds back from removal, in bytes. */
  retainedBytes: number;
  /** reserved, extended, unreserved or lost (PostgreSQL 13+): lost means the chain is broken. */
  walStatus: string | null;
}

export class ReplicationSlot {
  constructor(
    private readonly db: SqlRunner,
    readonly names: JournalSlotNames,
  ) {}

  /**
   * Creates what is missing: the publication (with exactly `tables`) and the slot. Returns the
   * slot's starting point when it was made now (the journal holds every commit after it), or
   * null when it was there already.
   */
  async ensure(tables: readonly string[]): Promise<{ createdAt: string } | null> {
    const list = tables.map((t) => `${quoteIdent(APP_SCHEMA)}.${quoteIdent(t)}`).join(', ');
    const publication = await queryOne(this.db, 'SELECT 1 FROM pg_publication WHERE pubname = $1', [this.names.publication]);
    if (!publication) await query(this.db, `CREATE PUBLICATION ${quoteIdent(this.names.publication)} FOR TABLE ${list}`);
    else await query(this.db, `ALTER PUBLICATION ${quoteIdent(this.names.publication)} SET TABLE ${list}`);
    if (await this.state()) return null;
    const created = await queryOne<{ lsn: string }>(this.db, `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [this.names.slot]);
    return { createdAt: created!.lsn };
  }

  async state(): Promise<SlotState | null> {
    const row = await queryOne<{ active: boolean; confirmed: string | null; retained: string | null; walStatus: string | null }>(
      this.db,
      `SELECT active, confirmed_flush_lsn::text AS confirmed,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
              wal_status AS "walStatus"
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.names.slot],
    );
    if (!row) return null;
    return { active: row.active, confirmedFlushLsn: row.confirmed, retainedBytes: Number(row.retained ?? 0), walStatus: row.walStatus };
  }

  /** Waits (up to `ms`) for the slot's sender to let go of it: a stopped stream's sender exits a moment later. */
  async released(ms = 5000): Promise<boolean> {
    for (const deadline = Date.now() + ms; ; ) {
      if (!(await this.state())?.active) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Drops the slot (ending whatever still streams from it) and the publication; either may be gone
   * already, or go meanwhile (another instance dropping them too). A sender that lets go of the
   * slot only slowly, or one that starts again, is ended again at each try.
   */
  async drop(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await query(
        this.db,
        `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL AND active_pid <> pg_backend_pid()`,
        [this.names.slot],
      );
      try {
        await query(this.db, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [this.names.slot]);
        break;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '42704') break; // undefined_object: dropped by another between our look and our drop
        if (code !== '55006' || attempt >= 100) throw err; // object_in_use: the terminated sender releases it a moment later
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await query(this.db, `DROP PUBLICATION IF EXISTS ${quoteIdent(this.names.publication)}`);
  }
}
