import { Client, Pool } from 'pg';
import type { BackupEvent } from '../src/backup/format/backup-reader';
import { copyRows } from '../src/restore/copy-rows';
import { freshDatabase } from './support/test-database';
import { until } from './support/until';

// PostgreSQL refuses a COPY's row while the file is still being read: what fails next in the
// aborted transaction must not hide the refusal (it surfaced as INTERNAL under load).
let pool: Pool;
beforeAll(async () => {
  pool = new Pool({ connectionString: await freshDatabase(), max: 2 });
  await pool.query('CREATE TABLE first_table (id int, doc jsonb); CREATE TABLE second_table (id int)');
});
afterAll(async () => pool?.end());

it('reports PostgreSQL\'s refusal of a row, even when it arrives while the next event is read', async () => {
  const client = await pool.connect();
  const monitor = new Client({ connectionString: (pool.options as { connectionString: string }).connectionString });
  await monitor.connect();
  try {
    await client.query('BEGIN');
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    async function* events(): AsyncGenerator<BackupEvent> {
      yield { kind: 'table', name: 'first_table' };
      yield { kind: 'row', table: 'first_table', json: `{"id":1,"doc":${deep}}`, value: {}, parsed: false };
      // The row (over one chunk) is on its way; the refusal comes back while the reader is slow.
      await until(
        'PostgreSQL to refuse the row',
        async () => (await monitor.query('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0]?.state,
        (state) => state === 'idle in transaction (aborted)',
        30_000,
        20,
      );
      yield { kind: 'tableEnd', name: 'first_table', rows: 1 };
      yield { kind: 'table', name: 'second_table' };
      yield { kind: 'row', table: 'second_table', json: '{"id":2}', value: {}, parsed: false };
      yield { kind: 'tableEnd', name: 'second_table', rows: 1 };
      yield { kind: 'end', recordCounts: {}, checksum: '', computedChecksum: '' };
    }
    const columns = (table: string) => (table === 'first_table' ? [{ name: 'id' }, { name: 'doc', json: true }] : [{ name: 'id' }]);
    await expect(copyRows(client, events(), (t) => `"${t}"`, columns, () => undefined, new AbortController().signal)).rejects.toMatchObject({ code: '54001' });
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    await monitor.end();
  }
});
