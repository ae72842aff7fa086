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
  storageKey: string;
  bytes: number;
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
  async addSegment(header: Pick<SegmentHeader, 'chain' | 'sequence' | 'startLsn'>, end: SegmentEnd, stored: { key: string; bytes: number }): Promise<void> {
    await query(
      this.dataSource,
      `INSERT INTO kiln_journal_segments (chain, sequence, "startLsn", "endLsn", "firstCommitAt", "lastCommitAt", transactions, changes, checksum, "storageKey", bytes, "minCommitAt", "maxXid")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
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
      ],
    );
  }

  async deleteSegment(segment: Pick<StoredSegment, 'chain' | 'sequence'>): Promise<void> {
    await query(this.dataSource, `DELETE FROM kiln_journal_segments WHERE chain = $1 AND sequence = $2`, [segment.chain, segment.sequence]);
  }

  async segments(chain: string): Promise<StoredSegment[]> {
    const rows = await query<Omit<StoredSegment, 'maxXid'> & { startLsn: string; endLsn: string; bytes: string; maxXid: string | null }>(
      this.dataSource,
      `SELECT chain, sequence, "startLsn"::text AS "startLsn", "endLsn"::text AS "endLsn", "firstCommitAt", "lastCommitAt", "minCommitAt", "maxXid"::text AS "maxXid",
              transactions, changes, checksum, "storageKey", bytes::text AS bytes
         FROM kiln_journal_segments WHERE chain = $1 ORDER BY sequence`,
      [chain],
    );
    return rows.map((r) => ({ ...r, startLsn: bigIntToLsn(BigInt(r.startLsn)), endLsn: bigIntToLsn(BigInt(r.endLsn)), bytes: Number(r.bytes), maxXid: r.maxXid === null ? null : BigInt(r.maxXid) }));
  }
}
