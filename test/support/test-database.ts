import { Client } from 'pg';
import { createDataSource } from '../../src/db/data-source';
import { migrateDatabase } from '../../src/db/migrate';
import { DEFAULT_KILN_SCHEMA } from '../../src/db/schemas';
import { missingForJournal, readLogicalDecodingFacts } from '../../src/journal/logical-decoding';

/** Set by global setup: a superuser URL on the test server (embedded, or KILN_TEST_DATABASE_URL). */
export function serverUrl(): string {
  const url = process.env.KILN_TEST_SERVER_URL;
  if (!url) throw new Error('KILN_TEST_SERVER_URL is not set: run the tests through jest (npm test)');
  return url;
}

export function databaseUrl(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  // As Kiln's own connections: its tables in its schema first, the app's in public.
  url.searchParams.set('options', '-c search_path=kiln,public');
  return url.toString();
}

/** This worker's own database: files in one worker run one after another and share it. */
export function workerDatabaseName(): string {
  return `kiln_test_${process.env.JEST_WORKER_ID ?? '1'}`;
}

/** This run's migrated database (made by global setup): copying it is quicker than migrating each new one. */
function migratedTemplateName(): string {
  return `kiln_template_${process.env.KILN_TEST_RUN_ID ?? 'run'}`;
}

async function withServer<T>(fn: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** The databases this file's running test gateways use, with how many use each. */
const inUse = new Map<string, number>();

/** Marks the database at `url` as a running gateway's until the returned release is called. */
export function holdDatabase(url: string): () => void {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  inUse.set(name, (inUse.get(name) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = inUse.get(name)! - 1;
    if (left > 0) inUse.set(name, left);
    else inUse.delete(name);
  };
}

/**
 * Creates (or empties) a database on the test server and returns its URL: empty, or with
 * `migrated`, a copy of the migrated template, as Kiln's first start leaves a new database
 * (but for the admin it creates then, which the copy does not hold).
 * Refuses a database a running test gateway uses: dropping it would pull it from under that gateway.
 */
export async function freshDatabase(name = workerDatabaseName(), options: { migrated?: boolean } = {}): Promise<string> {
  if (inUse.has(name)) {
    throw new Error(`freshDatabase: ${name} is the database of a test gateway still running: pass that gateway's databaseUrl to share it, or name another database`);
  }
  await withServer(async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"${options.migrated ? ` TEMPLATE "${migratedTemplateName()}"` : ''}`);
  });
  return databaseUrl(name);
}

/** Makes this run's migrated template (global setup). */
export async function createMigratedTemplate(): Promise<void> {
  const name = migratedTemplateName();
  await freshDatabase(name);
  const dataSource = createDataSource(databaseUrl(name), 2);
  await dataSource.initialize();
  try {
    await migrateDatabase(dataSource, DEFAULT_KILN_SCHEMA);
  } finally {
    await dataSource.destroy();
  }
  // A template is copied only while no one is connected to it: no one may connect from now on.
  await withServer((admin) => admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`));
}

/** Removes the template (global teardown; on a shared server, where it would outlive the run). */
export async function dropMigratedTemplate(): Promise<void> {
  const name = migratedTemplateName();
  await withServer(async (admin) => {
    await admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE false`).catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
  });
}

/**
 * What the test server lacks for the change journal, as Kiln itself judges it (global setup asks
 * a server named by KILN_TEST_DATABASE_URL once): it may run with wal_level = replica, as the
 * machine's PostgreSQL 15 does.
 */
export async function journalMissingOnServer(): Promise<string[]> {
  return withServer(async (admin) => missingForJournal(await readLogicalDecodingFacts(admin, [])));
}
