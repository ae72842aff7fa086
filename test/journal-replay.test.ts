/**
 * replayJournal against the real database: updates and deletes are sent in batches, and every key
 * must reach its own row — a key the restored data lack, or one named twice, is BACKUP_CORRUPT.
 */
import { Readable } from 'node:stream';
import { Pool, type PoolClient } from 'pg';
import { BackupSigner } from '../src/backup/format/backup-signature';
import { replayJournal, type ReplayOptions } from '../src/journal/journal-replay';
import { SegmentWriter, type JournalEntry } from '../src/journal/journal-segment';
import { extraDatabaseName } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';

const signer = new BackupSigner('journal-replay-test-signing-key-0123456789');
let pool: Pool;
let client: PoolClient;

beforeAll(async () => {
  pool = new Pool({ connectionString: await freshDatabase(extraDatabaseName('journal_replay'), { migrated: true }), max: 1 });
  client = await pool.connect();
});
afterAll(async () => {
  client?.release();
  await pool?.end();
});

/** One signed segment: the table's columns as the server states them, then one transaction of `changes`. */
/** The table's relation line: its columns as the server states them, `id` the key. */
async function relationOf(table: string): Promise<JournalEntry> {
  const columns = await client.query<{ name: string; type: number; mod: number }>(
    `SELECT attname AS name, atttypid::int AS type, atttypmod AS mod FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [`"${table}"`],
  );
  return { relation: { table, columns: columns.rows.map((c) => ({ ...c, key: c.name === 'id' })) } };
}

async function segmentOf(changes: JournalEntry[], table = 'LoanType'): Promise<{ name: string; open: () => Promise<Readable> }> {
  const writer = new SegmentWriter({ chain: 'c', sequence: 0, startLsn: '0/1000000', previousChecksum: null }, signer);
  let text = writer.start();
  const entries: JournalEntry[] = [
    await relationOf(table),
    { begin: { xid: '1000', lsn: '0/1000100', at: '2026-12-03T10:00:00.000000Z' } },
    ...changes,
    { commit: { end: '0/1000200' } },
  ];
  for (const entry of entries) text += writer.line(entry);
  text += writer.end('0/1000200').line;
  return { name: 'segment', open: async () => Readable.from([text]) };
}

/** Replays `segments` onto LoanType as a restore at 11:00 would, on a base whose snapshot holds none of them. */
const replayOptions = (segments: ReplayOptions['segments'], extra: Partial<ReplayOptions> = {}): ReplayOptions => ({
  snapshot: '900:900:',
  at: new Date('2026-12-03T11:00:00Z'),
  segments,
  tables: new Set(['LoanType']),
  signer,
  signal: new AbortController().signal,
  ...extra,
});

async function replay(changes: JournalEntry[]): Promise<unknown> {
  const segment = await segmentOf(changes);
  await client.query('BEGIN');
  try {
    return await replayJournal(client, replayOptions([segment]));
  } finally {
    await client.query('ROLLBACK');
  }
}

beforeEach(async () => {
  await client.query(`DELETE FROM "LoanType" WHERE id LIKE 'replay-%'`);
  for (const id of ['replay-1', 'replay-2', 'replay-3']) {
    await client.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ($1, $1, 1, 2, now())`, [id]);
  }
});

it('deletes each row a batch of deletes names', async () => {
  await client.query('BEGIN');
  const result = await replayJournal(client, replayOptions([await segmentOf([{ delete: 'LoanType', key: { id: 'replay-1' } }, { delete: 'LoanType', key: { id: 'replay-2' } }])]));
  const left = (await client.query(`SELECT id FROM "LoanType" WHERE id LIKE 'replay-%' ORDER BY id`)).rows;
  await client.query('ROLLBACK');
  expect(result).toMatchObject({ transactions: 1, changes: { LoanType: 2 } });
  expect(left).toEqual([{ id: 'replay-3' }]);
});

it.each([
  ['a row the restored data lack', [{ delete: 'LoanType', key: { id: 'replay-1' } }, { delete: 'LoanType', key: { id: 'replay-gone' } }]],
  ['a row named twice', [{ delete: 'LoanType', key: { id: 'replay-1' } }, { delete: 'LoanType', key: { id: 'replay-1' } }]],
  ['a delete without its key', [{ delete: 'LoanType', key: {} }]],
])('refuses a delete of %s as BACKUP_CORRUPT', async (_what, changes) => {
  await expect(replay(changes as JournalEntry[])).rejects.toMatchObject({ extensions: { code: 'BACKUP_CORRUPT' } });
});

/** A LoanType row as pgoutput logs it: every column in PostgreSQL's text. */
const loanTypeRow = (id: string, n: number, extra: Record<string, string | null> = {}) => ({
  id,
  name: `${id} v${n}`,
  description: n % 2 ? null : `described ${n}`,
  minAmount: `${n}.25`,
  maxAmount: `${n}00.75`,
  termUnit: n % 2 ? 'WEEK' : 'DAY',
  minTerm: String(n),
  maxTerm: String(n + 10),
  isActive: n % 2 ? 'f' : 't',
  createdAt: '2026-12-01 10:00:00.123',
  updatedAt: `2026-12-02 11:00:0${n}.456`,
  deletedAt: null,
  ...extra,
});

/** Runs `run`, with the statements starting with `prefix` it sent through the client. */
async function statementsDuring<T>(prefix: string, run: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const query = client.query.bind(client);
  client.query = ((text: unknown, ...rest: unknown[]) => {
    if (typeof text === 'string' && text.startsWith(prefix)) statements.push(text);
    return (query as (...args: unknown[]) => unknown)(text, ...rest);
  }) as typeof client.query;
  try {
    return { result: await run(), statements };
  } finally {
    client.query = query;
  }
}

/** Users with these ids and emails (in the caller's transaction). */
async function insertUsers(users: Array<[id: string, email: string]>): Promise<void> {
  for (const [id, email] of users) {
    await client.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, $2, 'x', 'CREDIT_OFFICER', now())`, [id, email]);
  }
}

/** A User row as pgoutput logs it (every column in PostgreSQL's text), its email changed. */
async function userWithEmail(id: string, email: string): Promise<Record<string, string | null>> {
  const values = (await client.query(`SELECT json_object_agg(key, value) AS v FROM json_each_text(row_to_json((SELECT u FROM "User" u WHERE id = $1)))`, [id])).rows[0].v;
  return { ...values, email };
}

const loanTypes = async () =>
  (await client.query(`SELECT id, name, description, "minAmount"::text, "maxAmount"::text, "termUnit"::text, "minTerm"::text, "maxTerm"::text,
                              CASE WHEN "isActive" THEN 't' ELSE 'f' END AS "isActive", "createdAt"::text, "updatedAt"::text, "deletedAt"::text
                         FROM "LoanType" WHERE id LIKE 'replay-%' ORDER BY id`)).rows;

it('updates each row a batch of updates names, every value as its column types it, a row updated twice taking its last values', async () => {
  await client.query('BEGIN');
  let left;
  try {
    const result = await replayJournal(
      client,
      replayOptions([
        await segmentOf([
          { update: 'LoanType', key: null, new: loanTypeRow('replay-1', 1) },
          { update: 'LoanType', key: null, new: loanTypeRow('replay-2', 2) },
          { update: 'LoanType', key: null, new: loanTypeRow('replay-1', 3) },
          // The key changed: the old one logged.
          { update: 'LoanType', key: { id: 'replay-3' }, new: loanTypeRow('replay-4', 4) },
          { update: 'LoanType', key: null, new: loanTypeRow('replay-4', 5) },
        ]),
      ]),
    );
    expect(result).toMatchObject({ transactions: 1, changes: { LoanType: 5 } });
    left = await loanTypes();
  } finally {
    await client.query('ROLLBACK');
  }
  expect(left).toEqual([loanTypeRow('replay-1', 3), loanTypeRow('replay-2', 2), loanTypeRow('replay-4', 5)]);
});

it.each([
  ['a row the restored data lack', [{ update: 'LoanType', key: null, new: loanTypeRow('replay-1', 1) }, { update: 'LoanType', key: null, new: loanTypeRow('replay-gone', 2) }]],
  ['a row whose key changed before', [{ update: 'LoanType', key: { id: 'replay-1' }, new: loanTypeRow('replay-5', 1) }, { update: 'LoanType', key: null, new: loanTypeRow('replay-1', 2) }]],
])('refuses an update of %s as BACKUP_CORRUPT', async (_what, changes) => {
  await expect(replay(changes as JournalEntry[])).rejects.toMatchObject({ extensions: { code: 'BACKUP_CORRUPT' } });
});

it('names the segments and commit times a failed batch came from when it spans segments', async () => {
  const relation = await relationOf('LoanType');
  // One batch of inserts across both segments; the last row's key is taken (replay-1 exists).
  const inserts = [['replay-new-1', 'replay-new-2'], ['replay-1']];
  const segments: ReplayOptions['segments'][number][] = [];
  let previous: { checksum: string; endLsn: string } | null = null;
  for (const [i, ids] of inserts.entries()) {
    const startLsn: string = previous?.endLsn ?? '0/2000000';
    const writer: SegmentWriter = new SegmentWriter({ chain: 'c', sequence: i, startLsn, previousChecksum: previous?.checksum ?? null }, signer);
    let text = writer.start();
    const endLsn = `0/${(0x2000100 + i * 0x100).toString(16).toUpperCase()}`;
    for (const entry of [
      relation,
      { begin: { xid: String(1000 + i), lsn: startLsn, at: `2026-12-03T10:00:0${i}.000000Z` } },
      ...ids.map((id) => ({ insert: 'LoanType', new: loanTypeRow(id, 1) })),
      { commit: { end: endLsn } },
    ] as JournalEntry[]) text += writer.line(entry);
    const { line, end }: ReturnType<SegmentWriter['end']> = writer.end(endLsn);
    previous = { checksum: end.checksum, endLsn };
    const body = text + line;
    segments.push({ name: `c#${i}`, open: async () => Readable.from([body]) });
  }
  await client.query('BEGIN');
  try {
    await expect(replayJournal(client, replayOptions(segments))).rejects.toMatchObject({
      extensions: { code: 'BACKUP_CORRUPT' },
      message: expect.stringMatching(
        /^Replaying the journal failed in segments c#0 to c#1 \(transactions committed 2026-12-03T10:00:00\.000000Z to 2026-12-03T10:00:01\.000000Z\): duplicate key/,
      ),
    });
  } finally {
    await client.query('ROLLBACK');
  }
});

it('sends a batch of at most 4 M characters of values: long rows go in more statements, each row once', async () => {
  const inserts = ['replay-big-1', 'replay-big-2', 'replay-big-3'].map((id) => ({ insert: 'LoanType', new: { ...loanTypeRow(id, 1), description: id.repeat(150_000) } }));
  const segment = await segmentOf(inserts);
  await client.query('BEGIN');
  try {
    const { result, statements } = await statementsDuring('INSERT', () => replayJournal(client, replayOptions([segment], { maxLineBytes: 2 * 1024 * 1024 })));
    expect(result).toMatchObject({ transactions: 1, changes: { LoanType: 3 } });
    // 1.8 M characters each: the first two together, the third alone.
    expect(statements.map((sql) => sql.match(/\(\$\d+/g)!.length)).toEqual([2, 1]);
    expect((await client.query(`SELECT id, length(description) AS n FROM "LoanType" WHERE id LIKE 'replay-big-%' ORDER BY id`)).rows).toEqual(
      inserts.map((i) => ({ id: i.new.id, n: 1_800_000 })),
    );
  } finally {
    await client.query('ROLLBACK');
  }
});

it('reads segment lines up to MAX_BACKUP_LINE_BYTES, refusing a longer one before holding it (naming the setting), and one that ends mid-line, as BACKUP_CORRUPT', async () => {
  // A genuine row may be long (a note, a document's text): within the configured limit it replays.
  const longNote = 'n'.repeat(100 * 1024);
  const long = () => segmentOf([{ insert: 'LoanType', new: { ...loanTypeRow('replay-long', 1), description: longNote } }]);
  await expect(replayJournal(client, replayOptions([await long()], { maxLineBytes: 64 * 1024 }))).rejects.toMatchObject({
    extensions: { code: 'BACKUP_CORRUPT', limit: 'MAX_BACKUP_LINE_BYTES' },
    message: expect.stringMatching(/^Journal segment segment was refused: line 4: line is longer than the 65536-byte limit\. If it is genuine, raise MAX_BACKUP_LINE_BYTES$/),
  });
  await client.query('BEGIN');
  try {
    await replayJournal(client, replayOptions([await long()], { maxLineBytes: 256 * 1024 }));
    expect((await client.query(`SELECT length(description) AS n FROM "LoanType" WHERE id = 'replay-long'`)).rows).toEqual([{ n: longNote.length }]);
  } finally {
    await client.query('ROLLBACK');
  }

  const whole = await segmentOf([{ delete: 'LoanType', key: { id: 'replay-1' } }]);
  const text = await new Promise<string>((resolve) => void whole.open().then((r) => r.once('data', (c: string | Buffer) => resolve(String(c)))));
  const cut = { name: 'cut', open: async () => Readable.from([text.slice(0, -1)]) };
  await expect(replayJournal(client, replayOptions([cut]))).rejects.toMatchObject({
    extensions: { code: 'BACKUP_CORRUPT' },
    message: expect.stringMatching(/ends in the middle of a line/),
  });
});

it('replays updates of a table with another unique index as the journal orders them: two users trading emails do not clash (the batch undone, then one at a time)', async () => {
  await client.query('BEGIN');
  let emails;
  try {
    // B stored before A; with nested loops off, a batched UPDATE … FROM would visit B first and clash with A's old email.
    await insertUsers([['replay-user-b', 'b@replay.test'], ['replay-user-a', 'a@replay.test']]);
    await client.query('SET LOCAL enable_nestloop = off');
    await client.query('SET LOCAL enable_mergejoin = off');
    const segment = await segmentOf(
      [
        { update: 'User', key: null, new: await userWithEmail('replay-user-a', 'old@replay.test') },
        { update: 'User', key: null, new: await userWithEmail('replay-user-b', 'a@replay.test') },
      ],
      'User',
    );
    await replayJournal(client, replayOptions([segment], { tables: new Set(['User']) }));
    emails = (await client.query(`SELECT id, email FROM "User" WHERE id LIKE 'replay-user-%' ORDER BY id`)).rows;
  } finally {
    await client.query('ROLLBACK');
  }
  expect(emails).toEqual([{ id: 'replay-user-a', email: 'old@replay.test' }, { id: 'replay-user-b', email: 'a@replay.test' }]);
});

it('updates a row the journal updates again and again once a statement, with its last values: a hot row costs a few statements, not one a change', async () => {
  // replay-1 updated 1,000 times, replay-2 every tenth change: 1,100 changes of LoanType.
  const row = (id: string, n: number) => loanTypeRow(id, n, { updatedAt: `2026-12-02 11:${String(Math.floor(n / 60)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}.456` });
  const changes: JournalEntry[] = [];
  for (let n = 1; n <= 1_000; n++) {
    changes.push({ update: 'LoanType', key: null, new: row('replay-1', n) });
    if (n % 10 === 0) changes.push({ update: 'LoanType', key: null, new: row('replay-2', n) });
  }
  const segment = await segmentOf(changes);
  await client.query('BEGIN');
  let result, updates, left;
  try {
    ({ result, statements: updates } = await statementsDuring('UPDATE', () => replayJournal(client, replayOptions([segment]))));
    left = await loanTypes();
  } finally {
    await client.query('ROLLBACK');
  }
  expect(result).toMatchObject({ transactions: 1, changes: { LoanType: 1_100 } });
  // 500 changes a batch (BATCH_ROWS), each row once in its statement: three statements of two rows.
  expect(updates.map((sql) => sql.match(/\(\$\d+/g)!.length)).toEqual([2, 2, 2]);
  expect(left).toEqual([row('replay-1', 1_000), row('replay-2', 1_000), expect.objectContaining({ id: 'replay-3' })]);
});

it('replays a row updated twice in a batch of a table with another unique index in the journal\'s order when the batch clashes: A steps aside, B takes its email, A takes B\'s', async () => {
  await client.query('BEGIN');
  let emails;
  try {
    await insertUsers([['replay-user-a', 'a@replay.test'], ['replay-user-b', 'b@replay.test']]);
    // One batch whose rows, at their last values (A: b@, B: a@), clash whichever goes first;
    // the journal's three updates, one at a time, never do.
    const segment = await segmentOf(
      [
        { update: 'User', key: null, new: await userWithEmail('replay-user-a', 'aside@replay.test') },
        { update: 'User', key: null, new: await userWithEmail('replay-user-b', 'a@replay.test') },
        { update: 'User', key: null, new: await userWithEmail('replay-user-a', 'b@replay.test') },
      ],
      'User',
    );
    const result = await replayJournal(client, replayOptions([segment], { tables: new Set(['User']) }));
    expect(result).toMatchObject({ transactions: 1, changes: { User: 3 } });
    emails = (await client.query(`SELECT id, email FROM "User" WHERE id LIKE 'replay-user-%' ORDER BY id`)).rows;
  } finally {
    await client.query('ROLLBACK');
  }
  expect(emails).toEqual([{ id: 'replay-user-a', email: 'b@replay.test' }, { id: 'replay-user-b', email: 'a@replay.test' }]);
});
