/**
 * Starts the test PostgreSQL once for the whole run: an embedded server (zero setup) in memory
 * where the machine has room for it (with the test files' temp folders), else in .kiln-test/; or the server named by KILN_TEST_DATABASE_URL.
 * Migrates a template database once, which tests copy (test-database.ts).
 * Also brings dist/ up to date (see build-dist.ts): the tests that run `node dist/src/main.js`
 * need it, and every gateway serves the console (dist/web) at /.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { freemem, hostname } from 'node:os';
import path from 'node:path';
import '../../src/config/utc';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/db/embedded-postgres';
import { buildDistForTests } from './build-dist';
import { createMigratedTemplate, journalMissingOnServer } from './test-database';

declare global {
  var __KILN_TEST_PG__: RunningPostgres | undefined;
}

export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  await buildDistForTests(root);
  // Names what a run makes outside its own folder (databases on a shared server): two runs at once never meet.
  process.env.KILN_TEST_RUN_ID = String(process.pid);

  if (process.env.KILN_TEST_DATABASE_URL) {
    process.env.KILN_TEST_SERVER_URL = process.env.KILN_TEST_DATABASE_URL;
  } else {
    // One folder per run: two jest runs at once must not share (or wipe) a cluster. Named by
    // host and pid: containers that share /dev/shm or the checkout each see only their own pids.
    const parent = testClusterParent(root);
    const prefix = `run-${hostname()}-`;
    removeDeadRuns(parent, prefix);
    const dataDir = path.join(parent, `${prefix}${process.pid}`);
    rmSync(dataDir, { recursive: true, force: true }); // a killed run's, whose pid this run was given
    process.env.KILN_TEST_DATA_DIR = dataDir;
    const pg = await startEmbeddedPostgres({ dataDir, port: 0, database: 'kiln_test' });
    if (parent !== path.join(root, '.kiln-test')) {
      // The test files' temp folders too (kiln-environment.js): they write and delete backups,
      // uploads and data folders all run long. Open to all, like /tmp (see kiln-environment.js).
      const tmp = path.join(dataDir, 'tmp');
      mkdirSync(tmp, { recursive: true });
      chmodSync(tmp, 0o1777);
      process.env.KILN_TEST_TMP_BASE = tmp;
    } else {
      delete process.env.KILN_TEST_TMP_BASE;
    }
    globalThis.__KILN_TEST_PG__ = pg;
    process.env.KILN_TEST_SERVER_URL = pg.url;
  }
  await createMigratedTemplate();
  // Only another server's journal tests may be skipped: the embedded one is started ready for the
  // journal, and should that ever fail, its tests must fail, not pass by skipping.
  const journalMissing = process.env.KILN_TEST_DATABASE_URL ? await journalMissingOnServer() : [];
  process.env.KILN_TEST_JOURNAL_MISSING = JSON.stringify(journalMissing);
  // Said once here: jest prints nothing of a test file whose every test is skipped.
  if (journalMissing.length > 0) console.log(`\nThe change journal's tests are skipped: the test server cannot run it: ${journalMissing.join('; ')}`);
}

/**
 * Where the run's cluster goes. In memory (/dev/shm) when it and the machine have room: a run
 * creates and drops ~150 databases, and on a disk such as CI's (ext4 without a journal) each new
 * file is placed only after a scan past every file deleted in the last minutes, which made a
 * CREATE DATABASE take 250–450 ms of CPU there, against ~15 ms in memory. Elsewhere, under the
 * checkout. The folder in /dev/shm is this user's own (another's, or a link, is not used).
 */
function testClusterParent(root: string): string {
  const onDisk = path.join(root, '.kiln-test');
  const GB = 1024 ** 3;
  try {
    const shm = statfsSync('/dev/shm');
    if (shm.bavail * shm.bsize < 4 * GB || freemem() < 4 * GB) return onDisk;
    const uid = process.getuid?.() ?? 0;
    const parent = `/dev/shm/kiln-test-${uid}`;
    // Traverse-only for others: as root, PostgreSQL runs as the postgres user, who must reach its cluster.
    mkdirSync(parent, { recursive: true, mode: uid === 0 ? 0o711 : 0o700 });
    const stat = lstatSync(parent);
    return stat.isDirectory() && stat.uid === uid ? parent : onDisk;
  } catch {
    return onDisk; // no /dev/shm here
  }
}

/** Removes the clusters of this host's runs whose process is gone (a run that was killed keeps its folder). */
function removeDeadRuns(parent: string, prefix: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = entry.startsWith(prefix) ? Number(entry.slice(prefix.length)) : 0;
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    try {
      rmSync(path.join(parent, entry), { recursive: true, force: true });
    } catch (err) {
      // A folder that cannot go (a mount a killed test left inside) must not stop this run.
      console.warn(`could not remove ${path.join(parent, entry)}: ${(err as Error).message}`);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
