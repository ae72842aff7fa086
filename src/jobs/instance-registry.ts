import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

const FILE = 'instances.json';

interface Entry {
  id: string;
  host: string;
  pid: number;
  /** When its process started (ms): tells a restarted container's pid 1 from the one before. */
  started: number;
}

/** Where this process runs: the registry judges only entries of the same host. */
export interface ThisProcess {
  host: string;
  pid: number;
  started: number;
  /** Whether a process with this pid exists now (tests stand in for the operating system). */
  alive(pid: number): boolean;
}

const thisProcess: ThisProcess = { host: hostname(), pid: process.pid, started: Math.round(performance.timeOrigin), alive: processExists };

/**
 * The gateway instances that ran on one data folder, in DATA_DIR/instances.json. A starting
 * instance adds itself and gets back the earlier ones that are provably gone: registered on this
 * host and their process no longer exists (or its pid is this one's, of a process started earlier: a container restarted),
 * so their jobs can be failed at once instead of after the lease TTL. Instances sharing the folder
 * each keep an entry of their own and never judge a live one gone; an entry of another host (a
 * shared volume) is never judged, and its jobs wait for the lease TTL. A lost write (two starting
 * at the same moment) only costs that recognition, never fails a live instance's job. Not covered:
 * two hosts of the same name sharing the folder from separate pid namespaces.
 */
export async function registerInstance(dataDir: string, instanceId: string, me: ThisProcess = thisProcess): Promise<string[]> {
  const entries = await read(dataDir);
  const gone = entries.filter(
    (e) => e.id !== instanceId && e.host === me.host && (e.pid === me.pid ? e.started !== me.started : !me.alive(e.pid)),
  );
  const kept = entries.filter((e) => !gone.includes(e) && e.id !== instanceId);
  await write(dataDir, [...kept, { id: instanceId, host: me.host, pid: me.pid, started: me.started }]);
  return gone.map((e) => e.id);
}

/** Removes this instance at a clean stop: it left no job behind. */
export async function unregisterInstance(dataDir: string, instanceId: string): Promise<void> {
  const entries = await read(dataDir);
  await write(dataDir, entries.filter((e) => e.id !== instanceId));
}

async function read(dataDir: string): Promise<Entry[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path.join(dataDir, FILE), 'utf8'));
    return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
  } catch (err) {
    // None yet, or unreadable: nothing is known of earlier instances (their jobs wait for the TTL).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return [];
    throw err;
  }
}

async function write(dataDir: string, entries: Entry[]): Promise<void> {
  // Whole or not at all: a reader never sees half a file.
  const temp = path.join(dataDir, `${FILE}.${randomUUID()}.tmp`);
  await writeFile(temp, JSON.stringify(entries), { mode: 0o600 });
  await rename(temp, path.join(dataDir, FILE));
}

function isEntry(value: unknown): value is Entry {
  const e = value as Entry;
  return typeof e?.id === 'string' && typeof e.host === 'string' && Number.isInteger(e.pid) && typeof e.started === 'number';
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
