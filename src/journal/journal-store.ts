import type { DataSource } from 'typeorm';
import { query, queryOne } from '../db/sql';
import type { SegmentEnd, SegmentHeader } from './journal-segment';
import { bigIntToLsn, lsnToBigInt } from './lsn';

export interface JournalChain {
  id: string;
  slot: string;
  publication: string;
  startLsn: string;
  startedAt: Date;
  /** Every transaction committed up to this instant is stored (null until the first is, or the stream catches up). */
  coveredUntil?: Date | null;
  endedAt: Date | null;
  endReason: string | null;
}

export interface StoredSegment {
  chain: string;
  sequence: number;
  startLsn: string;
  endLsn: string;
  firstCommitAt: Date | null;
  lastCommitAt: Date | null;
  minCommitAt: Date | null;
  maxXid: bigint | null;
  transactions: number;
  changes: number;
  checksum: string;
  /** Its key in the store it was written to (BACKUP_DIR, or the off-site store for CLOUD). */
  storageKey: string;
  /** Its off-site copy's key: the storageKey when written off-site (CLOUD), the copy's once made (BOTH), else null. */
  offsiteKey: string | null;
  bytes: number;
  storedAt: Date;
}

/** The last stored segment of a chain, or where the chain starts when it has none. */
export interface ChainPosition {
  sequence: number;
  endLsn: bigint;
  checksum: string | null;
}

/** kiln_journal_chains and kiln_journal_segments: the journal module's own tables. */
export class JournalStore {
  constructor(private readonly dataSource: DataSource) {}

  async openChain(chain: Pick<JournalChain, 'id' | 'slot' | 'publication' | 'startLsn'>): Promise<void> {
    await query(this.dataSource, `INSERT INTO kiln_journal_chains (id, slot, publication, "startLsn") VALUES ($1, $2, $3, $4)`, [
      chain.id,
      chain.slot,
      chain.publication,
      lsnToBigInt(chain.startLsn).toString(),
    ]);
  }

  async endChain(id: string, reason: string): Promise<void> {
    await query(this.dataSource, `UPDATE kiln_journal_chains SET "endedAt" = CURRENT_TIMESTAMP, "endReason" = $2 WHERE id = $1 AND "endedAt" IS NULL`, [id, reason]);
  }

  /** Every transaction of the chain committed up to `at` is stored. */
  async markCovered(id: string, at: Date | string): Promise<void> {
    await query(this.dataSource, `UPDATE kiln_journal_chains SET "coveredUntil" = greatest("coveredUntil", $2::timestamptz) WHERE id = $1`, [id, at]);
  }

  /** Every chain, newest first. */
  async chains(): Promise<JournalChain[]> {
    const rows = await query<JournalChain & { startLsn: string }>(
      this.dataSource,
      `SELECT id, slot, publication, "startLsn"::text AS "startLsn", "startedAt", "coveredUntil", "endedAt", "endReason"
         FROM kiln_journal_chains ORDER BY "startedAt" DESC`,
    );
    return rows.map((row) => ({ ...row, startLsn: bigIntToLsn(BigInt(row.startLsn)) }));
  }

  /** The chain being written, if the journal is on. */
  async openChainNow(): Promise<JournalChain | null> {
    const row = await queryOne<JournalChain & { startLsn: string }>(
      this.dataSource,
      `SELECT id, slot, publication, "startLsn"::text AS "startLsn", "startedAt", "coveredUntil", "endedAt", "endReason"
         FROM kiln_journal_chains WHERE "endedAt" IS NULL ORDER BY "startedAt" DESC LIMIT 1`,
    );
    return row ? { ...row, startLsn: bigIntToLsn(BigInt(row.startLsn)) } : null;
  }

  async position(chain: JournalChain): Promise<ChainPosition> {
    const last = await queryOne<{ sequence: number; endLsn: string; checksum: string }>(
      this.dataSource,
      `SELECT sequence, "endLsn"::text AS "endLsn", checksum FROM kiln_journal_segments WHERE chain = $1 ORDER BY sequence DESC LIMIT 1`,
      [chain.id],
    );
    return last ? { sequence: last.sequence, endLsn: BigInt(last.endLsn), checksum: last.checksum } : { sequence: -1, endLsn: lsnToBigInt(chain.startLsn), checksum: null };
  }

  /** Records a stored segment; it must continue the chain's last one (the primary key refuses a second writer's copy). */
  async addSegment(header: Pick<SegmentHeader, 'chain' | 'sequence' | 'startLsn'>, end: SegmentEnd, stored: { key: string; bytes: number }, offsite: boolean): Promise<void> {
    await query(
      this.dataSource,
      `INSERT INTO kiln_journal_segments (chain, sequence, "startLsn", "endLsn", "firstCommitAt", "lastCommitAt", transactions, changes, checksum, "storageKey", bytes, "minCommitAt", "maxXid", "offsiteKey")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        header.chain,
        header.sequence,
        lsnToBigInt(header.startLsn).toString(),
        lsnToBigInt(end.endLsn).toString(),
        end.firstCommitAt,
        end.lastCommitAt,
        end.transactions,
        end.changes,
        end.checksum,
        stored.key,
        stored.bytes,
        end.minCommitAt,
        end.maxXid,
        offsite ? stored.key : null,
      ],
    );
  }

  async deleteSegment(segment: Pick<StoredSegment, 'chain' | 'sequence'>): Promise<void> {
    await query(this.dataSource, `DELETE FROM kiln_journal_segments WHERE chain = $1 AND sequence = $2`, [segment.chain, segment.sequence]);
  }

  async segments(chain: string): Promise<StoredSegment[]> {
    return this.select(`WHERE chain = $1 ORDER BY sequence`, [chain]);
  }

  /** Segments without an off-site copy, oldest first (BOTH copies them). */
  async withoutOffsiteCopy(limit: number): Promise<StoredSegment[]> {
    return this.select(`WHERE "offsiteKey" IS NULL ORDER BY "storedAt", chain, sequence LIMIT $1`, [limit]);
  }

  /** Records a segment's off-site copy; false when the segment is gone (retention deleted it meanwhile). */
  async setOffsiteKey(segment: Pick<StoredSegment, 'chain' | 'sequence'>, key: string): Promise<boolean> {
    const rows = await query(this.dataSource, `UPDATE kiln_journal_segments SET "offsiteKey" = $3 WHERE chain = $1 AND sequence = $2 RETURNING 1`, [segment.chain, segment.sequence, key]);
    return rows.length > 0;
  }

  /** How many segments lack an off-site copy, and how long ago (database clock) the oldest of them was stored. */
  async offsiteBacklog(): Promise<{ count: number; oldestSeconds: number }> {
    const row = await queryOne<{ count: number; oldestSeconds: number | null }>(
      this.dataSource,
      `SELECT count(*)::int AS count, extract(epoch FROM clock_timestamp() - min("storedAt"))::float8 AS "oldestSeconds" FROM kiln_journal_segments WHERE "offsiteKey" IS NULL`,
    );
    return { count: row!.count, oldestSeconds: row!.oldestSeconds ?? 0 };
  }

  private async select(where: string, params: unknown[]): Promise<StoredSegment[]> {
    const rows = await query<Omit<StoredSegment, 'maxXid'> & { startLsn: string; endLsn: string; bytes: string; maxXid: string | null }>(
      this.dataSource,
      `SELECT chain, sequence, "startLsn"::text AS "startLsn", "endLsn"::text AS "endLsn", "firstCommitAt", "lastCommitAt", "minCommitAt", "maxXid"::text AS "maxXid",
              transactions, changes, checksum, "storageKey", "offsiteKey", bytes::text AS bytes, "storedAt"
         FROM kiln_journal_segments ${where}`,
      params,
    );
    return rows.map((r) => ({ ...r, startLsn: bigIntToLsn(BigInt(r.startLsn)), endLsn: bigIntToLsn(BigInt(r.endLsn)), bytes: Number(r.bytes), maxXid: r.maxXid === null ? null : BigInt(r.maxXid) }));
  }
}
