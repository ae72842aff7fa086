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
  await pool.query('CREATE TABLE first_table (id int, doc jsonb); CREATE TABLE second_table (id int); CREATE TABLE text_table (id int, note text)');
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

it('loads every row exactly, whatever its size and characters, across the buffers it is sent in', async () => {
  // Short rows, multibyte ones (2, 3 and 4 bytes in UTF-8), rows that end a buffer, one longer than a buffer.
  const notes = Array.from({ length: 6000 }, (_, i) => (i % 3 === 0 ? 'é'.repeat(i % 97) : i % 3 === 1 ? `陶器🏺 ${i}` : 'x'.repeat((i * 37) % 300)));
  notes[4321] = 'é陶🏺'.repeat(100_000);
  async function* events(): AsyncGenerator<BackupEvent> {
    yield { kind: 'table', name: 'text_table' };
    for (const [i, note] of notes.entries()) yield { kind: 'row', table: 'text_table', json: JSON.stringify({ id: i, note }), value: {}, parsed: false };
    yield { kind: 'tableEnd', name: 'text_table', rows: notes.length };
    yield { kind: 'end', recordCounts: {}, checksum: '', computedChecksum: '' };
  }
  const client = await pool.connect();
  try {
    const loaded = await copyRows(client, events(), (t) => `"${t}"`, () => [{ name: 'id' }, { name: 'note' }], () => undefined, new AbortController().signal);
    expect(loaded.rows).toBe(notes.length);
    const { rows } = await client.query<{ id: number; note: string }>('SELECT id, note FROM text_table ORDER BY id');
    expect(rows.map((r) => r.note)).toEqual(notes);
  } finally {
    client.release();
  }
});
