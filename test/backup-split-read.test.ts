/**
 * A backup's export reading a large table in two halves at once (a second session that imported
 * the backup's snapshot): the rows are exactly the snapshot's, a change committed meanwhile is in
 * neither half, a lock queued behind the backup makes it read that table alone rather than wait
 * (which would never end), a lock the second session's COPY waits on past its limit gives its half
 * back to the backup's session, a role that may not export a snapshot reads alone, and a cancel
 * mid-table ends both sessions.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { exportSnapshot, type SnapshotSink } from '../src/backup/snapshot/snapshot-exporter';
import { createDataSource } from '../src/db/data-source';
import { quoteIdent } from '../src/db/sql';
import { LENDING_TABLES } from '../src/domain';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { freshDatabase } from './support/test-database';
import { eventually, until } from './support/until';

const BIG = 'RepaymentScheduleItem';
let url: string;
let dataSource: DataSource;
let db: Client;

beforeAll(async () => {
  url = await freshDatabase(undefined, { migrated: true });
  db = new Client({ connectionString: url });
  await db.connect();
  await seedDemoData(db, { members: 40, seed: 3 });
  // ~30 MB in one table: more than the sockets hold, so a COPY of it is still sending when stopped.
  await db.query(
    `INSERT INTO "AuditLog" (id, action, "entityName", "entityId", metadata)
     SELECT 'padding-' || g, 'PADDING', 'Padding', 'p', jsonb_build_object('text', repeat('x', 2000)) FROM generate_series(1, 15000) g`,
  );
  dataSource = createDataSource(url, 4);
  await dataSource.initialize();
});
afterAll(async () => {
  await dataSource?.destroy();
  await db?.end();
});

/** Every table's rows as row_to_json gives them, sorted (a table's rows have no order in the file). */
async function tableRows(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of LENDING_TABLES) {
    const { rows } = await db.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM ${quoteIdent(table)} t`);
    out[table] = rows.map((r) => r.j).sort();
  }
  return out;
}

/** The lending tables of two pages or more: those a forced split reads in halves. */
async function multiPageTables(): Promise<string[]> {
  const { rows } = await db.query<{ t: string }>(
    `SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS x(t, n)
      WHERE pg_relation_size(format('public.%I', t)::regclass) >= 2 * current_setting('block_size')::int ORDER BY n`,
    [LENDING_TABLES],
  );
  return rows.map((r) => r.t);
}

/** Collects each table's lines; `during(table, lines)` runs as each batch arrives (before it is counted). */
class CollectingSink implements SnapshotSink {
  readonly rows: Record<string, string[]> = {};
  private table = '';

  constructor(private readonly hooks: { begin?: (table: string) => Promise<void>; lines?: (table: string) => void } = {}) {}

  async beginTable(name: string): Promise<void> {
    this.table = name;
    this.rows[name] = [];
    await this.hooks.begin?.(name);
  }

  async writeLines(lines: Buffer): Promise<number> {
    this.hooks.lines?.(this.table);
    const rows = lines.toString('utf8').split('\n').slice(0, -1);
    this.rows[this.table].push(...rows);
    // A turn of the event loop, as a real sink's backpressure gives: the other half's batches come in between.
    await new Promise((resolve) => setImmediate(resolve));
    return rows.length;
  }

  async endTable(): Promise<void> {}

  sorted(): Record<string, string[]> {
    return Object.fromEntries(Object.entries(this.rows).map(([table, rows]) => [table, [...rows].sort()]));
  }
}

const exportAll = (sink: SnapshotSink, signal = new AbortController().signal) => exportSnapshot(dataSource, LENDING_TABLES, sink, () => undefined, signal, { splitFromBytes: 0 });

it('reads every table of two pages or more in two halves at once, and the rows are exactly the database’s', async () => {
  const split = await multiPageTables();
  expect(split).toContain(BIG);
  expect(split.length).toBeGreaterThanOrEqual(3);
  const sink = new CollectingSink();
  const exported = await exportAll(sink);
  expect(exported.splitTables).toEqual(split);
  expect(sink.sorted()).toEqual(await tableRows());
  expect(exported.counts[BIG]).toBe((await tableRows())[BIG].length);
});

it('reads every table in one session with BACKUP_READ_SESSIONS=1', async () => {
  const sink = new CollectingSink();
  const exported = await exportSnapshot(dataSource, LENDING_TABLES, sink, () => undefined, new AbortController().signal, { sessions: 1, splitFromBytes: 0 });
  expect(exported.splitTables).toEqual([]);
  expect(sink.sorted()).toEqual(await tableRows());
});

it('leaves out of both halves a change committed while the export runs', async () => {
  const before = await tableRows();
  const sink = new CollectingSink({
    begin: async (table) => {
      if (table !== LENDING_TABLES[0]) return;
      // After the snapshot, before any row is read: every row of the big table gets a new version (on new pages too).
      await db.query(`UPDATE ${quoteIdent(BIG)} SET "updatedAt" = "updatedAt" + interval '1 day', "paidAmount" = "paidAmount" + 1`);
      await db.query(`UPDATE "AuditLog" SET "entityName" = 'changed'`);
    },
  });
  const exported = await exportAll(sink);
  expect(exported.splitTables).toContain(BIG);
  expect(exported.splitTables).toContain('AuditLog');
  expect(sink.sorted()).toEqual(before);
  expect((await tableRows())[BIG]).not.toEqual(before[BIG]);
});

it('reads a table alone when a lock waits behind the backup’s, instead of queueing behind it', async () => {
  const before = await tableRows();
  const blocker = new Client({ connectionString: url });
  await blocker.connect();
  let locked: Promise<unknown> = Promise.resolve();
  try {
    const sink = new CollectingSink({
      begin: async (table) => {
        if (table !== LENDING_TABLES[0]) return;
        await blocker.query('BEGIN');
        // An ALTER or TRUNCATE would ask for this lock: it waits for the backup's ACCESS SHARE.
        locked = blocker.query(`LOCK TABLE ${quoteIdent(BIG)} IN ACCESS EXCLUSIVE MODE`);
        await eventually('the lock to wait behind the backup', async () => {
          const { rows } = await db.query(`SELECT 1 FROM pg_locks WHERE relation = $1::regclass AND mode = 'AccessExclusiveLock' AND NOT granted`, [`public.${quoteIdent(BIG)}`]);
          return rows.length === 1;
        });
      },
    });
    const exported = await exportAll(sink);
    expect(exported.splitTables).not.toContain(BIG);
    expect(exported.splitTables).toContain('AuditLog');
    expect(sink.sorted()).toEqual(before);
    await locked; // granted once the backup's transaction ended
  } finally {
    await blocker.query('ROLLBACK').catch(() => undefined);
    await blocker.end();
  }
});

it('reads a half itself when the second session’s COPY waits on a lock past its limit, and reads the tables after it alone', async () => {
  const before = await tableRows();
  const split = await multiPageTables();
  // Tables before it are split: the second session is open when it reaches this one.
  expect(split.indexOf(BIG)).toBeGreaterThan(0);
  const blocker = new Client({ connectionString: url });
  await blocker.connect();
  let exported: Promise<unknown> | undefined;
  try {
    await blocker.query('BEGIN');
    // SHARE on the table (granted beside the backup's ACCESS SHARE, so the second session's LOCK NOWAIT
    // passes) and ACCESS EXCLUSIVE on its primary key index, which every plan over the table opens.
    await blocker.query(`REINDEX INDEX ${quoteIdent(`${BIG}_pkey`)}`);
    const sink = new CollectingSink();
    const exporting = exportAll(sink);
    exported = exporting.catch(() => undefined); // awaited in finally, whatever fails first
    // The backup's own session waits as long as it takes; the second gives up after its lock_timeout, and ends.
    await eventually('the second session to give its half back', async () => {
      const { rows } = await db.query<{ waiting: string; readers: string }>(
        `SELECT (SELECT count(*) FROM pg_locks WHERE relation = $1::regclass AND NOT granted) AS waiting,
                (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kiln-backup-reader') AS readers`,
        [`public.${quoteIdent(`${BIG}_pkey`)}`],
      );
      return Number(rows[0].waiting) === 1 && Number(rows[0].readers) === 0;
    });
    await blocker.query('ROLLBACK');
    const result = await exporting;
    expect(result.splitTables).toEqual(split.slice(0, split.indexOf(BIG)));
    expect(sink.sorted()).toEqual(before);
  } finally {
    await blocker.query('ROLLBACK').catch(() => undefined);
    await exported; // never left running into the next test, its tables locked
    await blocker.end();
  }
});

it('reads every table in one session when its role may not export a snapshot (EXECUTE revoked by a DBA)', async () => {
  const role = `kiln_no_export_${process.env.KILN_TEST_RUN_ID ?? 'run'}_${process.pid}`;
  const password = randomBytes(12).toString('hex');
  await db.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD '${password}'`);
  try {
    await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${quoteIdent(role)}`);
    const roleUrl = new URL(url);
    roleUrl.username = role;
    roleUrl.password = password;
    const limited = createDataSource(roleUrl.toString(), 2);
    await limited.initialize();
    try {
      const exportAs = async () => {
        const sink = new CollectingSink();
        const exported = await exportSnapshot(limited, LENDING_TABLES, sink, () => undefined, new AbortController().signal, { splitFromBytes: 0 });
        return { splitTables: exported.splitTables, rows: sink.sorted() };
      };
      // The same role splits while it may: the check is of the privilege, not of being a superuser.
      expect((await exportAs()).splitTables).toContain(BIG);
      await db.query('REVOKE EXECUTE ON FUNCTION pg_catalog.pg_export_snapshot() FROM PUBLIC');
      try {
        const revoked = await exportAs();
        expect(revoked.splitTables).toEqual([]);
        expect(revoked.rows).toEqual(await tableRows());
      } finally {
        await db.query('GRANT EXECUTE ON FUNCTION pg_catalog.pg_export_snapshot() TO PUBLIC');
      }
    } finally {
      await limited.destroy();
    }
  } finally {
    await db.query(`DROP OWNED BY ${quoteIdent(role)}`);
    await db.query(`DROP ROLE ${quoteIdent(role)}`);
  }
});

it.each([1, 2])('ends its sessions when cancelled in the middle of a large table (%i reading), the tables unlocked', async (sessions) => {
  const cancel = new AbortController();
  const reason = new Error('cancelled by the test');
  const sink = new CollectingSink({ lines: (table) => table === 'AuditLog' && cancel.abort(reason) });
  const exported = exportSnapshot(dataSource, LENDING_TABLES, sink, () => undefined, cancel.signal, { sessions, splitFromBytes: 0 });
  await expect(exported).rejects.toBe(reason);
  // Before the fix the export never settled: its ROLLBACK waited behind the stopped COPY, every table locked.
  // Its connections are closed; the server notices as it next writes to them.
  await until(
    'the server to end the export’s sessions',
    async () =>
      (
        await db.query(
          `SELECT application_name, state FROM pg_stat_activity
            WHERE datname = current_database() AND (application_name = 'kiln-backup-reader' OR (application_name LIKE 'kiln%' AND state <> 'idle'))`,
        )
      ).rows,
    (rows) => rows.length === 0,
  );
  // No lending table locked by anybody (an autovacuum aside, which gives way to any lock request): named if one is.
  const held = await db.query(
    `SELECT a.application_name, a.backend_type, l.mode, l.relation::regclass::text AS "table"
       FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
      WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.relation = ANY($1::text[]::regclass[]) AND l.pid <> pg_backend_pid() AND a.backend_type IS DISTINCT FROM 'autovacuum worker'`,
    [LENDING_TABLES.map(quoteIdent)],
  );
  expect(held.rows).toEqual([]);
  // The next export runs as usual.
  expect((await exportAll(new CollectingSink())).splitTables).toContain(BIG);
});
