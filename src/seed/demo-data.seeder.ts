/**
 * Deterministic demo data for the Millennium Potters lending schema.
 *
 * - Every value except `User.passwordHash` is a pure function of (members, seed): ids,
 *   names, amounts and dates come from a seeded PRNG (sfc32) and a fixed calendar
 *   (2024-01-01 .. 2025-06-30), never from Math.random or the clock. `batchRows` only
 *   changes how rows are grouped into COPY statements, not the data.
 * - Rows are generated member by member and streamed with COPY ... FROM STDIN (CSV) in
 *   batches; parents are always copied before children, so FK checks pass as we go.
 * - Money is integer kobo throughout and only formatted (2 decimals) when written.
 * - Timestamps are `timestamp(3) without time zone` holding UTC, as Prisma stores them.
 *
 * This file runs the transaction and the COPY stream. The rows come from the generators,
 * which share one SeedContext: the organisation (staff, catalogue, unions, staff history),
 * then each member (member → loans → repayments, documents), then the supervisor reports.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import bcrypt from 'bcrypt';
import { from as copyFrom } from 'pg-copy-streams';
import { generateCatalogue } from './catalogue.generator';
import { csvChunks, TABLE_ORDER, type CopyTable } from './copy-table.writer';

/** Tables a running gateway writes by itself (its first admin, logins): they may hold rows already. */
export const GATEWAY_WRITTEN_TABLES: ReadonlySet<string> = new Set(['User', 'StaffSession', 'UserLoginHistory', 'AuditLog']);
import { generateMember } from './member.generator';
import { generateReports } from './report.generator';
import { SeedContext, STREAM_STAFF } from './seed.context';
import { generateStaffHistory } from './staff-history.generator';
import { generateStaff } from './staff.generator';
import { generateUnions } from './union.generator';

export interface SeedOptions {
  members: number;
  seed: number;
  /** Rows buffered (over all tables) before a batch of COPYs is sent. Default 25,000. */
  batchRows?: number;
}

export interface SeedReport {
  rowsByTable: Record<string, number>;
  totalRows: number;
  seconds: number;
}

/**
 * Staff, catalogue, unions and staff history share one PRNG stream, drawn in this order:
 * reordering these calls would change every value generated after the change.
 */
function generateOrganisation(ctx: SeedContext): void {
  const r = ctx.rng(STREAM_STAFF, 0);
  generateStaff(ctx, r);
  generateCatalogue(ctx, r);
  generateUnions(ctx, r);
  generateStaffHistory(ctx, r);
}

/**
 * Fills every lending table with realistic, deterministic demo data. Expects empty tables.
 *
 * Staff passwords: every demo User gets the same bcrypt hash of a random password that is
 * generated here (crypto.randomBytes) and never stored or printed, so no demo account can
 * log in until an admin resets its password. This is the only non-deterministic value.
 */
export async function seedDemoData(client: ClientBase, options: SeedOptions, onProgress?: (table: string, rows: number) => void): Promise<SeedReport> {
  const started = process.hrtime.bigint();
  const { members, seed } = options;
  const batchRows = options.batchRows ?? 25_000;
  if (!Number.isSafeInteger(members) || members < 1) throw new Error(`seedDemoData: members must be a positive integer, got ${members}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seedDemoData: seed must be a non-negative integer, got ${seed}`);
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new Error(`seedDemoData: batchRows must be a positive integer, got ${batchRows}`);

  const passwordHash = await bcrypt.hash(randomBytes(32).toString('base64url'), 10);
  const ctx = new SeedContext(members, seed, passwordHash);
  const tables = TABLE_ORDER.map((name) => ctx.tables[name]);
  const buffered = () => tables.reduce((s, t) => s + t.lines.length, 0);

  const flush = async (batch: { table: CopyTable; lines: string[] }[]): Promise<void> => {
    for (const { table, lines } of batch) {
      await pipeline(Readable.from(csvChunks(lines)), client.query(copyFrom(table.copySql)));
      table.total += lines.length;
      onProgress?.(table.name, table.total);
    }
  };
  const takeBatch = () => {
    const batch: { table: CopyTable; lines: string[] }[] = [];
    for (const t of tables) {
      if (t.lines.length > 0) batch.push({ table: t, lines: t.lines });
      t.lines = [];
    }
    return batch;
  };

  let pending: Promise<void> = Promise.resolve();
  const send = async () => {
    const batch = takeBatch();
    await pending; // one COPY at a time on this connection
    pending = flush(batch);
    pending.catch(() => undefined); // awaited later; avoid an unhandled rejection meanwhile
  };

  await client.query('BEGIN');
  try {
    const empty = await client.query<{ t: string }>(
      TABLE_ORDER.filter((t) => !GATEWAY_WRITTEN_TABLES.has(t))
        .map((t) => `SELECT '${t}' AS t WHERE EXISTS (SELECT 1 FROM "${t}")`)
        .join(' UNION ALL '),
    );
    if (empty.rows.length > 0) throw new Error(`the lending tables already hold data (${empty.rows.map((x) => x.t).join(', ')}): seed an empty database`);

    generateOrganisation(ctx);
    await send();
    let sinceCheck = 0;
    for (let i = 0; i < members; i++) {
      generateMember(ctx, i);
      if (++sinceCheck === 64) {
        sinceCheck = 0;
        if (buffered() >= batchRows) await send();
        else await new Promise<void>((resolve) => setImmediate(resolve)); // let the COPY in flight progress
      }
    }
    generateReports(ctx);
    await send();
    await pending;
    await client.query('COMMIT');
  } catch (err) {
    await pending.catch(() => undefined);
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }

  const rowsByTable: Record<string, number> = {};
  let totalRows = 0;
  for (const t of tables) {
    rowsByTable[t.name] = t.total;
    totalRows += t.total;
  }
  return { rowsByTable, totalRows, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
