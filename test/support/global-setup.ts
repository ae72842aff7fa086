/**
 * Starts the test PostgreSQL once for the whole run: an embedded server in
 * .kiln-test/ (zero setup), or the server named by KILN_TEST_DATABASE_URL.
 * Migrates a template database once, which tests copy (test-database.ts).
 * Also brings dist/ up to date (see build-dist.ts): the tests that run `node dist/src/main.js`
 * need it, and every gateway serves the console (dist/web) at /.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import '../../src/config/utc';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/db/embedded-postgres';
import { buildDistForTests } from './build-dist';
import { createMigratedTemplate } from './test-database';

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
    // One folder per run: two jest runs at once must not share (or wipe) a cluster.
    const dataDir = path.join(root, '.kiln-test', `run-${process.pid}`);
    rmSync(dataDir, { recursive: true, force: true });
    process.env.KILN_TEST_DATA_DIR = dataDir;
    const pg = await startEmbeddedPostgres({ dataDir, port: 0, database: 'kiln_test' });
    globalThis.__KILN_TEST_PG__ = pg;
    process.env.KILN_TEST_SERVER_URL = pg.url;
  }
  await createMigratedTemplate();
}
