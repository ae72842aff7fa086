import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageUnavailableError } from '../errors/kiln-errors';
import { countBytes } from './count-bytes';
import type { ByteRange, PutOptions, PutSource, StorageDriver, StoredObject } from './storage-driver';

const PARTIAL = '.partial';

/**
 * Backup files in a folder (BACKUP_DIR, or the app's APP_BACKUP_DIR): written to
 * `<key>.<tag>.partial`, fsynced, renamed. It has no links of its own: the
 * gateway's download route streams its files.
 */
export class LocalStorageDriver implements StorageDriver {
  readonly name = 'LOCAL';

  constructor(readonly dir: string) {}

  /** Fails with STORAGE_UNAVAILABLE unless a file can be created in the folder now. */
  async assertWritable(): Promise<void> {
    const probe = path.join(this.dir, `.kiln-write-probe-${process.pid}`);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (err) {
      throw new StorageUnavailableError(`BACKUP_DIR ${this.dir} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  async put(key: string, source: PutSource, options: PutOptions): Promise<StoredObject> {
    const final = this.pathOf(key);
    const temp = `${final}.${options.tempTag}${PARTIAL}`;
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new StorageUnavailableError(`BACKUP_DIR ${this.dir} cannot be created: ${(err as Error).message}`);
    }
    let out;
    try {
      out = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
      await once(out, 'open');
    } catch (err) {
      throw new StorageUnavailableError(`BACKUP_DIR ${this.dir} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      const input = typeof source === 'function' ? await source() : source;
      if (options.onProgress) await pipeline(input, countBytes(options.onProgress), out, { signal: options.signal });
      else await pipeline(input, out, { signal: options.signal });
      // fsync through a new descriptor: it flushes the file, whichever descriptor wrote it.
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      const { size } = await stat(temp);
      if (options.expectedBytes !== undefined && size !== options.expectedBytes) {
        throw new StorageUnavailableError(`BACKUP_DIR ${this.dir} holds ${size} bytes of ${key}, ${options.expectedBytes} were sent`);
      }
      await rename(temp, final);
      await this.syncDir();
      return { key, bytes: size, address: final };
    } catch (err) {
      out.destroy();
      await rm(temp, { force: true });
      throw options.signal?.aborted ? options.signal.reason : err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    // Open first so a missing file fails here, not later inside a pipeline.
    const handle = await open(file, 'r');
    return handle.createReadStream({ autoClose: true, start: range?.start, end: range?.end });
  }

  async stat(key: string): Promise<{ bytes: number; modifiedAt: Date } | null> {
    try {
      const facts = await stat(this.pathOf(key));
      return { bytes: facts.size, modifiedAt: facts.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  signedUrl(): null {
    return null;
  }

  close(): void {
    // Nothing held open between calls.
  }

  async removeIncomplete(keepTags: () => Promise<ReadonlySet<string>>): Promise<string[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((name) => name.endsWith(PARTIAL));
    } catch {
      return [];
    }
    if (names.length === 0) return [];
    // Asked after listing: a job starting meanwhile has no file in the list yet.
    const keep = await keepTags();
    const removed: string[] = [];
    for (const name of names) {
      const tag = name.slice(0, -PARTIAL.length).split('.').pop() ?? '';
      if (keep.has(tag)) continue;
      await rm(path.join(this.dir, name), { force: true });
      removed.push(name);
    }
    return removed;
  }

  /** The file's absolute path: what the app's `localPath` holds. */
  pathOf(key: string): string {
    if (key.includes('/') || key.includes('\\') || key.startsWith('.')) throw new Error(`invalid storage key ${key}`);
    return path.join(this.dir, key);
  }

  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
