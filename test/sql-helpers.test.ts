/**
 * src/db/sql.ts against the real database: quoteIdent keeps any name one identifier, and query()
 * gives the rows of every statement alike (TypeORM's plain query() gives [rows, count] for UPDATE
 * and DELETE) through the data source, a transaction, a query runner and a pg client. The guarded
 * record update, which read an UPDATE's result, depends on it.
 */
import { Client } from 'pg';
import { BackupStatus } from '../src/backup/backup.enums';
import { query, queryOne, quoteIdent, updateReturning, type SqlRunner } from '../src/db/sql';
import { startTestKiln, type TestKiln } from './support/test-kiln';

const TABLE = 'kiln "odd" name; --';
let kiln: TestKiln;
let db: Client;

beforeAll(async () => {
  kiln = await startTestKiln();
  db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  await db.query(`CREATE TABLE ${quoteIdent(TABLE)} (id int PRIMARY KEY, ${quoteIdent('a "column"')} text)`);
});
afterAll(async () => {
  await db?.end();
  await kiln?.close();
});

it('quotes a name as one identifier, whatever it holds', async () => {
  expect(quoteIdent('a"b')).toBe('"a""b"');
  await db.query(`INSERT INTO ${quoteIdent(TABLE)} VALUES (0, 'zero')`);
  expect(await queryOne(kiln.dataSource, `SELECT ${quoteIdent('a "column"')} AS v FROM ${quoteIdent(TABLE)} WHERE id = 0`)).toEqual({ v: 'zero' });
});

it('returns the rows of INSERT, UPDATE, DELETE and SELECT alike through every runner', async () => {
  const check = async (db: SqlRunner, id: number) => {
    const t = quoteIdent(TABLE);
    expect(await query(db, `INSERT INTO ${t} (id) VALUES ($1) RETURNING id`, [id])).toEqual([{ id }]);
    expect(await query(db, `UPDATE ${t} SET id = id WHERE id = $1 RETURNING id`, [id])).toEqual([{ id }]);
    expect(await updateReturning(db, `UPDATE ${t} SET id = id WHERE id = -1 RETURNING id`, [])).toEqual([]);
    expect(await query<{ n: number }>(db, `SELECT count(*)::int AS n FROM ${t} WHERE id = $1`, [id])).toEqual([{ n: 1 }]);
    expect(await query(db, `DELETE FROM ${t} WHERE id = $1 RETURNING id`, [id])).toEqual([{ id }]);
    expect(await query(db, `DELETE FROM ${t} WHERE id = $1 RETURNING id`, [id])).toEqual([]);
  };
  await check(kiln.dataSource, 1);
  await check(db, 2);
  await kiln.dataSource.transaction((tx) => check(tx, 3));
  await check(kiln.dataSource.manager, 4);
  const runner = kiln.dataSource.createQueryRunner();
  try {
    await check(runner, 5);
  } finally {
    await runner.release();
  }
});

it('runs a transaction manager’s statements in its transaction', async () => {
  const t = quoteIdent(TABLE);
  await expect(
    kiln.dataSource.transaction(async (tx) => {
      await query(tx, `INSERT INTO ${t} (id) VALUES (6)`);
      throw new Error('roll back');
    }),
  ).rejects.toThrow('roll back');
  expect(await query(db, `SELECT id FROM ${t} WHERE id = 6`)).toEqual([]);
});

it('changes a backup record guarded by a status only while it has that status', async () => {
  await db.query(`INSERT INTO backup_records (id, filename, "fileSize", location, type, status) VALUES ('guarded', 'g.json', 1, 'local', 'manual', 'completed')`);
  const records = kiln.services.backups.records;
  expect(await records.update('guarded', { error: 'too late' }, BackupStatus.IN_PROGRESS)).toBe(false);
  expect((await records.get('guarded'))!.error).toBeNull();
  expect(await records.update('guarded', { error: 'noted' }, BackupStatus.COMPLETED)).toBe(true);
  expect((await records.get('guarded'))!.error).toBe('noted');
});
