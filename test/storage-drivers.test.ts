import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createLogger } from '../src/logging/logger';
import { CloudinaryStorageDriver } from '../src/storage/cloudinary-storage.driver';
import { LocalStorageDriver } from '../src/storage/local-storage.driver';
import type { StorageDriver } from '../src/storage/storage-driver';
import { closedPort } from './support/closed-port';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';

/**
 * The contract every storage driver keeps, run against the local driver and the
 * Cloudinary driver (against the local Cloudinary stand-in): what BackupService
 * relies on without knowing which one it talks to.
 */

const CHUNK = 5 * 1024 * 1024;
// More than one Cloudinary chunk: the chunked upload path is the one that runs.
const bytes = randomBytes(CHUNK + 123_457);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A source that sends `first`, then waits (for an abort) without ending. */
function stalledAfter(first: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(first);
      }
    },
  });
}

interface DriverUnderTest {
  driver: StorageDriver;
  /** Whether a put left anything behind besides committed objects (temporary files). */
  leftovers(): string[];
  /** What a signed link of the driver serves, or null when it has none. */
  viaLink(key: string): Promise<{ status: number; body: Buffer } | null>;
  close(): Promise<void>;
}

let cloud: FakeCloudinary;
beforeAll(async () => {
  cloud = await startCloudinaryServer();
});
afterAll(async () => {
  await cloud?.close();
});

const cloudConfig = (uploadPrefix: string) => ({
  cloudName: cloud.cloudName,
  apiKey: cloud.apiKey,
  apiSecret: cloud.apiSecret,
  uploadPrefix,
  folder: 'contract',
  retryAttempts: 2,
  timeoutMs: 20_000,
  chunkBytes: CHUNK,
});

const drivers: Array<[string, () => DriverUnderTest]> = [
  [
    'local',
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'kiln-contract-'));
      const driver = new LocalStorageDriver(dir);
      return {
        driver,
        leftovers: () => readdirSync(dir).filter((f) => f.endsWith('.partial')),
        viaLink: async () => null,
        close: async () => driver.close(),
      };
    },
  ],
  [
    'cloudinary',
    () => {
      const driver = new CloudinaryStorageDriver(cloudConfig(cloud.url), createLogger('silent'));
      return {
        driver,
        // Cloudinary keeps no temporary objects of its own (stat shows whether anything was committed).
        leftovers: () => [],
        viaLink: async (key) => {
          const url = driver.signedUrl(key, 600);
          const res = await fetch(url);
          return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
        },
        close: async () => driver.close(),
      };
    },
  ],
];

describe.each(drivers)('the %s storage driver', (_name, make) => {
  let d: DriverUnderTest;
  beforeEach(() => {
    d = make();
  });
  afterEach(async () => {
    await d.close();
  });

  it('stores what put streams, reporting progress, and gives it back whole, by range and with its size', async () => {
    const key = `put-${randomBytes(4).toString('hex')}.bin`;
    const seen: number[] = [];
    const stored = await d.driver.put(key, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), {
      tempTag: 'job-a',
      expectedBytes: bytes.length,
      onProgress: (n) => seen.push(n),
    });
    expect(stored.bytes).toBe(bytes.length);
    expect(stored.address).toEqual(expect.any(String));
    expect(stored.address.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(bytes.length);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    expect(sha(await readAll(await d.driver.get(stored.key)))).toBe(sha(bytes));
    const range = { start: CHUNK - 10, end: CHUNK + 9 };
    expect((await readAll(await d.driver.get(stored.key, range))).equals(bytes.subarray(range.start, range.end + 1))).toBe(true);
    expect((await d.driver.stat(stored.key))?.bytes).toBe(bytes.length);
    expect(d.leftovers()).toEqual([]);
  });

  it('takes a source it can open again (what a retrying driver needs)', async () => {
    const key = `reopen-${randomBytes(4).toString('hex')}.bin`;
    let opened = 0;
    const stored = await d.driver.put(key, async () => (opened++, Readable.from([bytes])), { tempTag: 'job-b' });
    expect(opened).toBe(1);
    expect((await d.driver.stat(stored.key))?.bytes).toBe(bytes.length);
  });

  it('says null for a missing object, deletes one, and counts one already gone as deleted', async () => {
    const stored = await d.driver.put(`del-${randomBytes(4).toString('hex')}.bin`, Readable.from([bytes.subarray(0, 4096)]), { tempTag: 'job-c' });
    expect((await d.driver.stat(stored.key))?.bytes).toBe(4096);
    await d.driver.delete(stored.key);
    expect(await d.driver.stat(stored.key)).toBeNull();
    await expect(d.driver.delete(stored.key)).resolves.toBeUndefined();
  });

  it('stops a put when its signal aborts, with the abort reason, and commits nothing', async () => {
    const key = `abort-${randomBytes(4).toString('hex')}.bin`;
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const put = d.driver.put(key, stalledAfter(bytes.subarray(0, 64 * 1024)), {
      tempTag: 'job-d',
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    });
    await expect(put).rejects.toBe(reason);
    const name = d.driver.name === 'CLOUD' ? `contract/${key}` : key;
    expect(await d.driver.stat(name)).toBeNull();
    expect(d.leftovers()).toEqual([]);
  });

  it('refuses a put whose stored size is not what was sent, as STORAGE_UNAVAILABLE', async () => {
    const key = `short-${randomBytes(4).toString('hex')}.bin`;
    await expect(d.driver.put(key, Readable.from([bytes.subarray(0, 100)]), { tempTag: 'job-e', expectedBytes: 101 })).rejects.toMatchObject({
      extensions: { code: 'STORAGE_UNAVAILABLE' },
    });
  });

  it('gives a signed link that serves the object, or none when the gateway streams it itself', async () => {
    const stored = await d.driver.put(`link-${randomBytes(4).toString('hex')}.bin`, Readable.from([bytes.subarray(0, 2048)]), { tempTag: 'job-f' });
    const served = await d.viaLink(stored.key);
    if (d.driver.name === 'LOCAL') {
      expect(d.driver.signedUrl(stored.key, 600)).toBeNull();
      expect(served).toBeNull();
    } else {
      expect(served!.status).toBe(200);
      expect(served!.body.equals(bytes.subarray(0, 2048))).toBe(true);
    }
  });
});

describe('crash clean-up', () => {
  it('local: removes the temporary files of jobs no longer running, keeps those of running ones and every committed file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-contract-'));
    const driver = new LocalStorageDriver(dir);
    writeFileSync(path.join(dir, 'a.json.dead-job.partial'), 'x');
    writeFileSync(path.join(dir, 'b.json.live-job.partial'), 'x');
    writeFileSync(path.join(dir, 'c.json'), 'x');
    expect(await driver.removeIncomplete(async () => new Set(['live-job']))).toEqual(['a.json.dead-job.partial']);
    expect(readdirSync(dir).sort()).toEqual(['b.json.live-job.partial', 'c.json']);
  });

  it('cloudinary: has nothing to clean up (an unfinished chunked upload is never a resource) and asks nobody', async () => {
    const driver = new CloudinaryStorageDriver(cloudConfig(cloud.url), createLogger('silent'));
    const before = cloud.requests.length;
    const keep = jest.fn(async () => new Set<string>());
    expect(await driver.removeIncomplete(keep)).toEqual([]);
    expect(keep).not.toHaveBeenCalled();
    expect(cloud.requests.length).toBe(before);
    driver.close();
  });
});

describe('a store that cannot be reached is STORAGE_UNAVAILABLE', () => {
  it('local: a folder that cannot be created', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-contract-')), 'a-file');
    writeFileSync(file, 'x');
    const driver = new LocalStorageDriver(path.join(file, 'backups'));
    await expect(driver.assertWritable()).rejects.toMatchObject({ extensions: { code: 'STORAGE_UNAVAILABLE' } });
    await expect(driver.put('k.bin', Readable.from([bytes.subarray(0, 10)]), { tempTag: 't' })).rejects.toMatchObject({ extensions: { code: 'STORAGE_UNAVAILABLE' } });
  });

  it('cloudinary: a server that is down, for put, get and stat', async () => {
    const driver = new CloudinaryStorageDriver({ ...cloudConfig(`http://127.0.0.1:${await closedPort()}`), retryAttempts: 1 }, createLogger('silent'));
    try {
      const unavailable = { extensions: { code: 'STORAGE_UNAVAILABLE' } };
      await expect(driver.put('k.bin', async () => Readable.from([bytes.subarray(0, 10)]), { tempTag: 't' })).rejects.toMatchObject(unavailable);
      await expect(driver.get('contract/k.bin')).rejects.toMatchObject(unavailable);
      await expect(driver.stat('contract/k.bin')).rejects.toMatchObject(unavailable);
    } finally {
      driver.close();
    }
  });
});
