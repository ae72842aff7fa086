/**
 * The change journal on cloud-only storage (the schedule keeps backups in the CLOUD): segments go
 * to Cloudinary (our stand-in, which checks signatures as Cloudinary does), through the real SDK,
 * and a restore to an instant reads base and segments from there. On BOTH, each segment stored in
 * BACKUP_DIR is then copied to the cloud, and a restore finds the copy when the local one is gone.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { instantAfterCommits, restoreToInstant } from './support/point-in-time';
import { fingerprint } from './support/restore-helpers';
import { extraDatabaseName, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken } from './support/test-kiln';
import { until } from './support/until';
import { describeWithJournal } from './support/journal-server';

let cloud: FakeCloudinary;
let s: SeededKiln;

describeWithJournal('journal segments in the cloud', () => {
  beforeAll(async () => {
    cloud = await startCloudinaryServer();
    s = await startSeededKiln(3, { CLOUDINARY_URL: cloud.cloudinaryUrl, JOURNAL_SEGMENT_SECONDS: '0.2', JOB_LEASE_TTL_SECONDS: '600', JOURNAL_MAX_LAG_SECONDS: '1' }, extraDatabaseName('journal_cloud'));
  });
  // Each test turns the journal on where it wants it: turning it off after each ends its chain, so
  // the next test starts a chain (and base backup) of its own; a cloud fault left behind is cleared.
  afterEach(async () => {
    cloud.faults.length = 0;
    const off = await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { continuous: false }) { continuous } }', {}, await loginToken(s.kiln.url));
    expect(off.errors).toBeUndefined();
  });
  afterAll(async () => {
    await s?.close();
    await cloud?.close();
  });

  it('stores segments in the cloud only, and restores an instant from the cloud', async () => {
    // A fresh sign-in: a restore run before this test (the other one's) signed out s.token.
    const on = await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { location: CLOUD, continuous: true }) { continuous location } }', {}, await loginToken(s.kiln.url));
    expect(on.errors).toBeUndefined();
    expect(on.data!.updateBackupSchedule).toEqual({ continuous: true, location: 'CLOUD' });
    // Turning it on queued a base backup (to the cloud, as the schedule says).
    await until('the base backup', async () => (await s.db.query(`SELECT 1 FROM kiln.kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rowCount, (n) => n === 0, 60_000, 100);
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('cloud-1', 'in the cloud', 1, 2, now())`);
    const at = await instantAfterCommits(s.db);
    const expected = await fingerprint(s.db, ['LoanType']);
    await until('the journal to hold it', () => s.kiln.services.journal.store.openChainNow(), (c) => (c?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    const chain = (await s.kiln.services.journal.store.openChainNow())!;
    const segments = await s.kiln.services.journal.store.segments(chain.id);
    expect(segments.length).toBeGreaterThan(0);
    // Not on this machine: in the cloud (only this chain's: the BOTH test may have left local segments of its own chain).
    expect(readdirSync(s.kiln.backupDir).filter((f) => f.startsWith(`kiln-journal-${chain.id}-`))).toEqual([]);
    const cloudKeys = [...cloud.objects.keys()].join('\n');
    for (const segment of segments) expect(cloudKeys).toContain(segment.storageKey.replace(/\.jsonl\.gz$/, ''));

    await s.db.query(`DELETE FROM "LoanType" WHERE id = 'cloud-1'`);
    expect(await restoreToInstant(s.kiln, at)).toBe('COMPLETED');
    expect(await fingerprint(s.db, ['LoanType'])).toEqual(expected);
  });

  it('on BOTH copies every segment to the cloud, flags copies that fall behind, and restores from the copies', async () => {
    const on = await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { location: BOTH, continuous: true }) { continuous location } }', {}, await loginToken(s.kiln.url));
    expect(on.data!.updateBackupSchedule).toEqual({ continuous: true, location: 'BOTH' });
    await until('the base backup', async () => (await s.db.query(`SELECT 1 FROM kiln.kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rowCount, (n) => n === 0, 60_000, 100);
    const journal = s.kiln.services.journal;
    const health = async () => (await gql(s.kiln.url, '{ backupHealth { problemCodes } }', {}, await loginToken(s.kiln.url))).data!.backupHealth.problemCodes as string[];
    const covered = (at: Date) => until('the journal to hold it', () => journal.store.openChainNow(), (c) => (c?.coveredUntil ?? new Date(0)) >= at, 30_000, 100);
    const now = () => instantAfterCommits(s.db);

    // The cloud refuses uploads: segments are still stored (locally), and health says their copies are behind.
    cloud.faults.push({ match: 'upload', kind: '500', times: Infinity });
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('both-1', 'local first', 1, 2, now())`);
    await covered(await now());
    expect((await journal.store.offsiteBacklog()).count).toBeGreaterThan(0);
    await until('the copies to be flagged', health, (codes) => codes.includes('JOURNAL_OFFSITE_BEHIND'), 30_000, 200);

    // The cloud is back: the next segment's store copies every segment still without a copy.
    cloud.faults.length = 0;
    await s.db.query(`INSERT INTO "LoanType" (id, name, "minAmount", "maxAmount", "updatedAt") VALUES ('both-2', 'then the cloud', 1, 2, now())`);
    const at = await now();
    const expected = await fingerprint(s.db, ['LoanType']);
    await covered(at);
    await until('every copy', () => journal.store.offsiteBacklog(), (b) => b.count === 0, 30_000, 100);
    expect(await health()).not.toContain('JOURNAL_OFFSITE_BEHIND');
    const segments = await journal.store.segments((await journal.store.openChainNow())!.id);
    // Copied: each in the cloud under its recorded key (a segment stored since the backlog emptied may have none yet).
    const local = segments.filter((segment) => segment.offsiteKey !== null && segment.offsiteKey !== segment.storageKey);
    expect(local.length).toBeGreaterThan(0);
    for (const segment of local) expect(cloud.objects.has(segment.offsiteKey!)).toBe(true);

    // The machine loses its segment files: the restore reads the cloud copies.
    for (const file of readdirSync(s.kiln.backupDir).filter((f) => f.startsWith('kiln-journal-') && f.endsWith('.jsonl.gz'))) rmSync(path.join(s.kiln.backupDir, file));
    await s.db.query(`DELETE FROM "LoanType" WHERE id IN ('both-1', 'both-2')`);
    expect(await restoreToInstant(s.kiln, at)).toBe('COMPLETED');
    expect(await fingerprint(s.db, ['LoanType'])).toEqual(expected);
  });
});
