import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { errorCode, gql } from './support/test-kiln';
import { whileTableLocked, backupFileText, CREATE_BACKUP, extraDatabaseName, finishedJob, parseBackupFile, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { until } from './support/until';

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(150);
});
afterAll(async () => s?.close());

it('backs up every lending table; every row in the file is exactly a row of the database', async () => {
  const res = await gql(s.kiln.url, CREATE_BACKUP, { i: { includeAuditLogs: true, includeSessions: true } }, s.token);
  expect(res.errors).toBeUndefined();
  expect(res.data!.createBackup).toMatchObject({ kind: 'BACKUP', status: 'RUNNING', backup: { status: 'IN_PROGRESS' } });
  const job = await finishedJob(s, res.data!.createBackup.id);
  expect(job).toMatchObject({ status: 'COMPLETED', percent: 100, error: null });
  const backup = job.backup;
  expect(backup).toMatchObject({ status: 'COMPLETED', storedLocally: true, createdBy: { email: 'root@kiln.test' } });

  const file = path.join(s.kiln.backupDir, backup.filename);
  const bytes = readFileSync(file);
  expect(bytes.length).toBe(backup.fileSize);
  const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  expect(isGzip).toBe(backup.compressed);
  expect(backup.filename.endsWith('.json.gz')).toBe(isGzip);
  const doc = parseBackupFile(file);
  expect(doc).toMatchObject({ format: 'kiln-backup', formatVersion: 1, checksum: { algorithm: 'sha256', value: backup.checksum } });
  expect(doc.header).toMatchObject({ schemaVersion: expect.stringMatching(/^Kiln/), options: { includeAuditLogs: true, includeSessions: true } });
  expect(doc.recordCounts).toEqual(backup.recordCounts);

  for (const table of doc.header.tables as string[]) {
    const { rows } = await s.db.query(`SELECT row_to_json(t)::text AS j FROM "${table}" t`);
    const fromDb = new Set(rows.map((r) => JSON.stringify(JSON.parse(r.j))));
    const fromFile: string[] = doc.data[table].map((r: unknown) => JSON.stringify(r));
    expect(doc.recordCounts[table]).toBe(fromFile.length);
    for (const row of fromFile) expect(fromDb.has(row)).toBe(true);
    // Nothing but this backup's BACKUP_CREATED audit entry can be missing from the file: it is
    // written while the job runs, before or after the snapshot depending on who is faster.
    const inFile = new Set(fromFile);
    const missing = [...fromDb].filter((row) => !inFile.has(row)).map((row) => JSON.parse(row));
    if (table === 'AuditLog') expect(missing.map((e) => [e.action, e.entityId])).toEqual(missing.length ? [['BACKUP_CREATED', backup.id]] : []);
    else expect(missing).toEqual([]);
  }
  // That entry exists either way.
  expect((await s.db.query(`SELECT count(*)::int AS n FROM "AuditLog" WHERE action = 'BACKUP_CREATED' AND "entityId" = $1`, [backup.id])).rows[0].n).toBe(1);
  // Exact types: money stays a decimal literal, timestamps keep milliseconds, unicode survives.
  const text = backupFileText(file);
  expect(text).toMatch(/"principalAmount":\d+\.\d{2},/);
  expect(text).toMatch(/"createdAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"/);
  expect(text).toMatch(/[^\p{ASCII}]/u);
  expect(text).toMatch(/"before":\{/); // jsonb stays an object, not a string
});

it('records the snapshot its rows were read in: exactly the transactions the file holds', async () => {
  const unions = (await s.db.query<{ id: string; name: string }>('SELECT id, name FROM "Union" ORDER BY id LIMIT 3')).rows;
  const rename = `UPDATE "Union" SET name = name || ' (renamed)' WHERE id = $1 RETURNING pg_current_xact_id()::text AS xid`;
  const committedBefore = (await s.db.query<{ xid: string }>(rename, [unions[0].id])).rows[0].xid;
  // A transaction open across the whole backup: begun before its snapshot, committed after it.
  const spanning = new Client({ connectionString: s.kiln.databaseUrl });
  await spanning.connect();
  let openAcross: string;
  let backup: { id: string; filename: string };
  try {
    await spanning.query('BEGIN');
    openAcross = (await spanning.query<{ xid: string }>(rename, [unions[1].id])).rows[0].xid;
    const { jobId } = await startBackup(s);
    backup = (await finishedJob(s, jobId)).backup;
    await spanning.query('COMMIT');
  } finally {
    await spanning.end();
  }
  const committedAfter = (await s.db.query<{ xid: string }>(rename, [unions[2].id])).rows[0].xid;

  const { snapshot } = (await s.db.query<{ snapshot: string }>('SELECT snapshot FROM kiln.kiln_backup_details WHERE id = $1', [backup.id])).rows[0];
  expect(snapshot).toMatch(/^\d+:\d+:(\d+(,\d+)*)?$/);
  const holds = async (xid: string) => (await s.db.query<{ v: boolean }>('SELECT pg_visible_in_snapshot($1::xid8, $2::pg_snapshot) AS v', [xid, snapshot])).rows[0].v;
  expect([await holds(committedBefore), await holds(openAcross), await holds(committedAfter)]).toEqual([true, false, false]);
  // The file agrees: only the change committed before the backup is in it.
  const inFile = new Map((parseBackupFile(path.join(s.kiln.backupDir, backup.filename)).data.Union as Array<{ id: string; name: string }>).map((u) => [u.id, u.name]));
  expect(unions.map((u) => inFile.get(u.id))).toEqual([`${unions[0].name} (renamed)`, unions[1].name, unions[2].name]);
});

it('agrees with its snapshot when a TRUNCATE commits while it starts: the file and the snapshot both hold it', async () => {
  // TRUNCATE is not MVCC-safe: a table read after it commits looks empty even to an older snapshot.
  const own = await startSeededKiln(5, {}, extraDatabaseName('truncate'));
  const truncating = new Client({ connectionString: own.kiln.databaseUrl });
  await truncating.connect();
  try {
    expect((await own.db.query<{ n: number }>('SELECT count(*)::int AS n FROM "UserNote"')).rows[0].n).toBeGreaterThan(0);
    await truncating.query('BEGIN');
    const xid = (await truncating.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0].xid;
    await truncating.query('TRUNCATE "UserNote"');
    const { jobId } = await startBackup(own);
    // The backup has begun and waits for the TRUNCATE's lock.
    await until(
      'the backup to wait for the TRUNCATE',
      async () => (await own.db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rowCount,
      (n) => n === 1,
      30_000,
    );
    await truncating.query('COMMIT');
    const backup = (await finishedJob(own, jobId)).backup;
    const { snapshot } = (await own.db.query<{ snapshot: string }>('SELECT snapshot FROM kiln.kiln_backup_details WHERE id = $1', [backup.id])).rows[0];
    const holds = (await own.db.query<{ v: boolean }>('SELECT pg_visible_in_snapshot($1::xid8, $2::pg_snapshot) AS v', [xid, snapshot])).rows[0].v;
    const doc = parseBackupFile(path.join(own.kiln.backupDir, backup.filename));
    expect({ rowsInFile: doc.data.UserNote.length, snapshotHoldsTruncate: holds }).toEqual({ rowsInFile: 0, snapshotHoldsTruncate: true });
    expect(doc.data.Union.length).toBeGreaterThan(0);
  } finally {
    await truncating.end();
    await own.close();
  }
});

it('leaves out audit logs and staff sessions unless asked, and never Kiln’s own tables', async () => {
  const { jobId } = await startBackup(s);
  const job = await finishedJob(s, jobId);
  const tables = Object.keys(job.backup.recordCounts);
  expect(tables).not.toContain('AuditLog');
  expect(tables).not.toContain('StaffSession');
  expect(tables).toContain('UserLoginHistory');
  expect(tables.filter((t) => t.startsWith('kiln_') || t.startsWith('backup_'))).toEqual([]);
});

it('stays plain JSON below 1 MB and gzips above it', async () => {
  const small = await startSeededKiln(5, {}, extraDatabaseName('small'));
  try {
    const job = await finishedJob(small, (await startBackup(small)).jobId);
    expect(job.backup.compressed).toBe(false);
    expect(job.backup.filename).toMatch(/\.json$/);
    expect(job.backup.fileSize).toBeLessThan(1024 * 1024);
  } finally {
    await small.close();
  }
  const big = await finishedJob(s, (await startBackup(s, { includeAuditLogs: true })).jobId);
  expect(big.backup.compressed).toBe(true);
  expect(big.backup.filename).toMatch(/\.json\.gz$/);
});

it('refuses a second backup while one runs with CONFLICT naming the running job, and deleting it meanwhile', async () => {
  const first = await whileTableLocked(s, async () => {
    const running = await startBackup(s);
    const second = await gql(s.kiln.url, CREATE_BACKUP, {}, s.token);
    expect(errorCode(second)).toBe('CONFLICT');
    expect(second.errors![0].extensions!.runningJobId).toBe(running.jobId);
    const del = await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: running.backupId }, s.token);
    expect(errorCode(del)).toBe('CONFLICT');
    return running;
  });
  expect((await finishedJob(s, first.jobId)).status).toBe('COMPLETED');
});

it('answers unknown ids and finished jobs with typed errors', async () => {
  expect((await gql(s.kiln.url, '{ backup(id: "nope") { id } job(id: "nope") { id } }', {}, s.token)).data).toEqual({ backup: null, job: null });
  expect(errorCode(await gql(s.kiln.url, 'mutation { deleteBackup(id: "nope") }', {}, s.token))).toBe('NOT_FOUND');
  expect(errorCode(await gql(s.kiln.url, 'mutation { cancelJob(id: "nope") { id } }', {}, s.token))).toBe('NOT_FOUND');
  const done = await finishedJob(s, (await startBackup(s)).jobId);
  expect(done.status).toBe('COMPLETED');
  const cancel = await gql(s.kiln.url, 'mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: done.id }, s.token);
  expect(errorCode(cancel)).toBe('CONFLICT');
  expect(errorCode(await gql(s.kiln.url, CREATE_BACKUP, { i: { location: 'CLOUD' } }, s.token))).toBe('STORAGE_UNAVAILABLE');
  expect(errorCode(await gql(s.kiln.url, '{ backups(limit: 0) { total } }', {}, s.token))).toBe('BAD_USER_INPUT');
  expect(errorCode(await gql(s.kiln.url, '{ backups(offset: -1) { total } }', {}, s.token))).toBe('BAD_USER_INPUT');
});

it('lists with filters and pages, deletes file and record, and audits both actions', async () => {
  // Three of its own at least, whatever ran before.
  for (let i = 0; i < 3; i++) expect((await finishedJob(s, (await startBackup(s)).jobId)).status).toBe('COMPLETED');
  const page = (await gql(s.kiln.url, '{ backups(limit: 2, filter: { status: COMPLETED }) { total items { id filename status } } }', {}, s.token)).data!.backups;
  expect(page.items).toHaveLength(2);
  expect(page.total).toBeGreaterThanOrEqual(3);
  const next = (await gql(s.kiln.url, '{ backups(limit: 2, offset: 2, filter: { status: COMPLETED }) { items { id } } }', {}, s.token)).data!.backups;
  expect(next.items.map((b: { id: string }) => b.id)).not.toContain(page.items[0].id);
  expect((await gql(s.kiln.url, '{ backups(filter: { type: SCHEDULED }) { total } }', {}, s.token)).data!.backups.total).toBe(0);

  const victim = page.items[0];
  expect(existsSync(path.join(s.kiln.backupDir, victim.filename))).toBe(true);
  const res = await gql(s.kiln.url, 'mutation($id: ID!) { deleteBackup(id: $id) }', { id: victim.id }, s.token);
  expect(res.data).toEqual({ deleteBackup: true });
  expect(existsSync(path.join(s.kiln.backupDir, victim.filename))).toBe(false);
  expect((await gql(s.kiln.url, '{ backups(filter: { status: COMPLETED }) { total } }', {}, s.token)).data!.backups.total).toBe(page.total - 1);
  expect(readdirSync(s.kiln.backupDir).filter((f) => f.endsWith('.partial'))).toEqual([]);

  const audit = await s.db.query(`SELECT action FROM "AuditLog" WHERE "entityName" = 'Backup' AND "entityId" = $1 ORDER BY "createdAt"`, [victim.id]);
  expect(audit.rows.map((r) => r.action)).toEqual(['BACKUP_CREATED', 'BACKUP_DELETED']);
});

it('is admin-only', async () => {
  expect(errorCode(await gql(s.kiln.url, CREATE_BACKUP, {}))).toBe('UNAUTHENTICATED');
  expect(errorCode(await gql(s.kiln.url, '{ backups { total } }'))).toBe('UNAUTHENTICATED');
});

it('keeps multi-byte characters that straddle COPY chunks intact', async () => {
  // 100,000 three-byte characters: some chunk boundary falls inside one of them.
  const userId = (await s.db.query(`SELECT id FROM "User" LIMIT 1`)).rows[0].id;
  await s.db.query(
    `INSERT INTO "UserNote" (id, "userId", title, content, "createdByUserId", "updatedAt") VALUES ('naira-note', $1, 'Àjàyí ₦', repeat('₦', 100000) || 'é😀', $1, now())`,
    [userId],
  );
  try {
    const job = await finishedJob(s, (await startBackup(s)).jobId);
    const doc = parseBackupFile(path.join(s.kiln.backupDir, job.backup.filename));
    const note = doc.data.UserNote.find((n: { id: string }) => n.id === 'naira-note');
    expect(note.title).toBe('Àjàyí ₦');
    expect(note.content).toBe('₦'.repeat(100000) + 'é😀');
  } finally {
    await s.db.query(`DELETE FROM "UserNote" WHERE id = 'naira-note'`);
  }
});
