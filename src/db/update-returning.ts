import type { DataSource } from 'typeorm';

/**
 * The rows an UPDATE/DELETE … RETURNING gave back. TypeORM's plain
 * `dataSource.query()` returns `[rows, affectedCount]` for those statements,
 * so `rows.length` or `const [row]` on its result would be wrong.
 */
export async function updateReturning<T = Record<string, unknown>>(dataSource: DataSource, sql: string, parameters: unknown[]): Promise<T[]> {
  const runner = dataSource.createQueryRunner();
  try {
    return (await runner.query(sql, parameters, true)).records;
  } finally {
    await runner.release();
  }
}
