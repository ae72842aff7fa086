/**
 * The streaming gateway killed (SIGKILL) in the middle of a journal segment: another instance takes
 * the journal over once its lease lapses, and every transaction is stored exactly once.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Client } from 'pg';
import { BackupSigner } from '../src/backup/format/backup-signature';
import { assertUnbroken, SegmentReader, type ReadSegment } from '../src/journal/journal-segment';
import { startKilnProcess, type KilnProcess } from './support/kiln-process';
import { extraDatabaseName } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { gql, loginToken, startTestKiln, TEST_ADMIN, TEST_BACKUP_SIGNING_KEY, TEST_JWT_SECRET, type TestKiln } from './support/test-kiln';
import { until } from './support/until';
import { describeWithJournal } from './support/journal-server';
import { insertLoanType } from './support/point-in-time';

let url: string;
let db: Client;
let victim: KilnProcess | undefined;
let heir: TestKiln | undefined;
const backupDir = mkdtempSync(path.join(tmpdir(), 'kiln-journal-crash-'));

describeWithJournal('a streaming gateway killed', () => {
  beforeAll(async () => {
    url = await freshDatabase(extraDatabaseName('journal_crash'), { migrated: true });
    db = new Client({ connectionString: url });
    await db.connect();
  });

  afterAll(async () => {
    victim?.child.kill('SIGKILL');
    if (heir) await gql(heir.url, 'mutation { updateBackupSchedule(input: { continuous: false }) { continuous } }', {}, await loginToken(heir.url));
    await heir?.close();
    await db?.end();
  });

  const insert = (id: string) => insertLoanType(db, id);

  /** The xids of every stored segment of the open chain, in order, each segment proven and the chain unbroken. */
  async function journaled(): Promise<string[]> {
    const signer = new BackupSigner(TEST_BACKUP_SIGNING_KEY);
    const { rows } = await db.query<{ storageKey: string }>(
      `SELECT s."storageKey" FROM kiln.kiln_journal_segments s JOIN kiln.kiln_journal_chains c ON c.id = s.chain WHERE c."endedAt" IS NULL ORDER BY s.sequence`,
    );
    const xids: string[] = [];
    const read: ReadSegment[] = [];
    for (const { storageKey } of rows) {
      const reader = new SegmentReader(storageKey, signer, (e) => 'begin' in e && xids.push(e.begin.xid));
      for (const line of gunzipSync(readFileSync(path.join(backupDir, storageKey))).toString().split('\n')) if (line) reader.push(line);
      read.push(reader.finish());
    }
    assertUnbroken(read);
    return xids;
  }

  it('a streaming gateway killed mid-segment: the other instance takes over and nothing is lost or stored twice', async () => {
    const env = { DATABASE_URL: url, JWT_SECRET: TEST_JWT_SECRET, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY, BACKUP_DIR: backupDir, JOB_LEASE_TTL_SECONDS: '1' };
    // Segments stay open 3 s on the victim: a kill finds one being written.
    victim = await startKilnProcess({ ...env, JOURNAL_SEGMENT_SECONDS: '3', ADMIN_EMAIL: TEST_ADMIN.email, ADMIN_PASSWORD: TEST_ADMIN.password, BCRYPT_COST: '10' });
    const on = await gql(victim.url, 'mutation { updateBackupSchedule(input: { continuous: true }) { continuous } }', {}, await loginToken(victim.url));
    expect(on.errors).toBeUndefined();
    await until('the victim to stream', () => victim!.logs.some((l) => l.event === 'journal_streaming'), (yes) => yes, 30_000, 50);
    heir = await startTestKiln({ BACKUP_DIR: backupDir, JOB_LEASE_TTL_SECONDS: '1', JOURNAL_SEGMENT_SECONDS: '0.2' }, url);
    await heir.services.journal.check();
    expect(heir.services.journal.streaming).toBeNull(); // the victim holds the lease

    const xids: string[] = [];
    for (let i = 0; i < 20; i++) xids.push(await insert(`crash-${i}`));
    // Killed while a segment holding some of them is still being written.
    await until('a segment being written', () => readdirSync(backupDir).filter((f) => f.startsWith('kiln-journal-') && f.endsWith('.partial')), (files) => files.length > 0, 30_000, 2);
    victim.child.kill('SIGKILL');
    await victim.exited;
    for (let i = 20; i < 40; i++) xids.push(await insert(`crash-${i}`));

    await until('the heir to take the journal over', () => heir!.services.journal.check().then(() => heir!.services.journal.streaming), (s) => s !== null, 30_000, 200);
    const all = await until('every transaction to be stored', journaled, (stored) => xids.every((x) => stored.includes(x)), 60_000, 200);
    expect(all.filter((x) => xids.includes(x))).toEqual(xids);
    expect(new Set(all).size).toBe(all.length);
    // The victim's half-written segment is cleaned up once its lease has lapsed.
    await until('the partial segment to go', () => readdirSync(backupDir).filter((f) => f.endsWith('.partial')), (files) => files.length === 0, 30_000, 100);
  });
});
