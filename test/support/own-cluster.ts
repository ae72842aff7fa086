import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const EMBEDDED_POSTGRES = path.resolve(__dirname, '../../dist/src/db/embedded-postgres.js');

/** Marks the line that carries the URL: anything else the child may print is not parsed. */
const READY = 'kiln-own-cluster ready ';

// Starts the cluster, says its URL on stdout, and stops it once stdin ends (the test closed it, or died).
const CHILD = `
const READY = ${JSON.stringify(READY)};
const { startEmbeddedPostgres } = require(process.env.EMBEDDED_POSTGRES);
startEmbeddedPostgres({ dataDir: process.env.DATA_DIR, port: 0, database: 'kiln' }).then(
  (pg) => {
    process.stdout.write(READY + JSON.stringify({ url: pg.url }) + '\\n');
    process.stdin.on('end', () => pg.stop().then(() => process.exit(0), () => process.exit(1)));
    process.stdin.resume();
  },
  (err) => { console.error(err); process.exit(1); },
);`;

export interface OwnCluster {
  /** A superuser URL of its database `kiln` (empty: a gateway migrates it on start). */
  url: string;
  stop(): Promise<void>;
}

/**
 * An embedded PostgreSQL cluster of one test's own, as the gateway's zero-setup start runs, for a
 * test whose figures are the whole cluster's (the WAL a replication slot holds back): on the shared
 * test server, other files' writes and open transactions count too. In a child process, because
 * embedded-postgres is ESM-only, which jest's module sandbox does not load (dist/ is built by global setup).
 */
export function startOwnCluster(): Promise<OwnCluster> {
  const child = spawn(process.execPath, ['-e', CHILD], {
    env: { ...process.env, EMBEDDED_POSTGRES, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'kiln-own-cluster-')) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    child.stdin!.end();
    const code = await exited;
    if (code !== 0) throw new Error(`the test's own PostgreSQL did not stop cleanly (exit ${code}): ${stderr.join('\n')}`);
  };
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith(READY)) resolve({ url: (JSON.parse(line.slice(READY.length)) as { url: string }).url, stop });
    });
    void exited.then((code) => reject(new Error(`the test's own PostgreSQL did not start (exit ${code}): ${stderr.join('\n')}`)));
  });
}
