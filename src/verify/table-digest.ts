import { createHash } from 'node:crypto';

/**
 * An order-independent digest of a table's rows: the sum of the first 60 bits
 * of each row's md5. The same sum is computed by PostgreSQL over the rows it
 * holds, so a file and a table can be compared without sorting either.
 */
export class TableDigest {
  private sum = 0n;
  rows = 0;

  add(rowText: string): void {
    this.sum += BigInt(`0x${createHash('md5').update(rowText).digest('hex').slice(0, 15)}`);
    this.rows++;
  }

  get value(): string {
    return this.sum.toString();
  }
}

/** The same digest in SQL over a relation (`FROM <relation> r`). */
export function tableDigestSql(relation: string): string {
  return `SELECT count(*)::bigint AS rows,
                 coalesce(sum(('x' || substr(md5(row_to_json(r.*)::text), 1, 15))::bit(60)::bigint), 0)::text AS digest
            FROM ${relation} r`;
}
