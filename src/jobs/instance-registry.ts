import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

const FILE = 'instances.json';

interface Entry {
  id: string;
}

/** Which of these instances are provably gone: the database's answer (instance-liveness.ts), never a pid's. */
export type GoneVerdict = (ids: readonly string[]) => Promise<string[]>;

/**
 * The gateway instances that ran on one data folder, in DATA_DIR/instances.json: which earlier
 * instances a starting one asks about, so that it fails its own dead jobs at once instead of after
 * the lease TTL. A starting instance adds itself and gets back the earlier ones `gone` proves gone
 * (they leave the file); live ones sharing the folder stay. An instance that never ran on this
 * folder is not asked about: its jobs wait for the lease TTL. A lost write (two starting at the
 * same moment) only costs that recognition, never fails a live instance's job.
 */
export async function registerInstance(dataDir: string, instanceId: string, gone: GoneVerdict): Promise<string[]> {
  const earlier = (await read(dataDir)).filter((e) => e.id !== instanceId);
  const goneIds = new Set(await gone(earlier.map((e) => e.id)));
  const kept = earlier.filter((e) => !goneIds.has(e.id));
  await write(dataDir, [...kept.map((e) => ({ id: e.id })), { id: instanceId }]);
  return [...goneIds];
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
  return typeof e?.id === 'string';
}
