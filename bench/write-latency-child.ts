/**
 * The lending app's writes, timed from a process of their own (as the app's are): one-row UPDATEs,
 * each its own transaction, one at a time. Timed in the bench's process they would also wait on
 * Kiln's event loop, which is the journal's streamer when the journal is on.
 * DATABASE_URL, BENCH_WRITES (how many), BENCH_TAG (what the rows are set to).
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { failure, reportAndExit, type ChildResult } from './bench-child';

export type WriteLatencyChildResult = ChildResult<{ seconds: number[] }>;

async function writes(): Promise<WriteLatencyChildResult> {
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  try {
    const id = (await db.query<{ id: string }>('SELECT id FROM "LoanType" ORDER BY id LIMIT 1')).rows[0].id;
    const seconds: number[] = [];
    for (let i = 0; i < Number(process.env.BENCH_WRITES); i++) {
      const t = performance.now();
      await db.query(`UPDATE "LoanType" SET description = $2 WHERE id = $1`, [id, `${process.env.BENCH_TAG} ${i}`]);
      seconds.push((performance.now() - t) / 1000);
    }
    return { ok: true, seconds };
  } finally {
    await db.end();
  }
}

writes().then(reportAndExit, (err: unknown) => reportAndExit(failure(err)));
