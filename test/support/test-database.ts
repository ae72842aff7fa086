import { Client } from 'pg';

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

/** Creates (or empties) a database on the test server and returns its URL. */
export async function freshDatabase(name = workerDatabaseName()): Promise<string> {
  const admin = new Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return databaseUrl(name);
}
