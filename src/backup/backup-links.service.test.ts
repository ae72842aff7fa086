import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DownloadTokenService } from '../auth/token.service';
import { LocalStorageDriver } from '../storage/local-storage.driver';
import type { ByteRange, PutOptions, PutSource, StorageDriver, StoredObject } from '../storage/storage-driver';
import type { BackupStorage } from '../storage/storage-factory';
import { BackupCopies } from './backup-copies';
import { BackupLinksService, type DownloadSource } from './backup-links.service';
import { BackupLocation, BackupOrigin, BackupStatus } from './backup.enums';
import { BackupRecord } from './records/backup-record';

/** An off-site store with or without links of its own: what a new driver looks like to the backup side. */
class MemoryDriver implements StorageDriver {
  readonly name = 'CLOUD';
  readonly objects = new Map<string, Buffer>();
  constructor(private readonly links: boolean) {}
  async assertWritable(): Promise<void> {}
  async put(key: string, source: PutSource, _options?: PutOptions): Promise<StoredObject> {
    const parts: Buffer[] = [];
    for await (const part of typeof source === 'function' ? await source() : source) parts.push(part as Buffer);
    this.objects.set(key, Buffer.concat(parts));
    return { key, bytes: this.objects.get(key)!.length, address: `memory:${key}` };
  }
  async get(key: string, range?: ByteRange): Promise<Readable> {
    const bytes = this.objects.get(key)!;
    return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]);
  }
  async stat(key: string) {
    const bytes = this.objects.get(key);
    return bytes ? { bytes: bytes.length } : null;
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
  signedUrl(key: string, ttlSeconds: number): string | null {
    return this.links ? `https://memory.example/${key}?ttl=${ttlSeconds}` : null;
  }
  async removeIncomplete(): Promise<string[]> {
    return [];
  }
  close(): void {}
}

const record = (fields: Partial<BackupRecord>) =>
  Object.assign(new BackupRecord(), {
    id: 'b1',
    filename: 'kiln-backup-1.json',
    status: BackupStatus.COMPLETED,
    location: BackupLocation.CLOUD,
    origin: BackupOrigin.KILN,
    localPath: null,
    cloudPublicId: 'kiln-backups/kiln-backup-1.json',
    cloudType: 'authenticated',
    fileChecksum: 'abc',
    ...fields,
  });

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const part of stream) text += String(part);
  return text;
}

describe('links to a backup, whichever store holds it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-links-'));
  const downloads = new DownloadTokenService('x'.repeat(32), 900);
  const storageWith = (offsite: StorageDriver, app?: StorageDriver): BackupStorage => ({ local: new LocalStorageDriver(dir), offsite, app: { offsite: app }, close() {} });

  it("a copy only off-site: the store's own link when it has links, and the route redirects there", async () => {
    const links = new BackupLinksService(new BackupCopies(storageWith(new MemoryDriver(true))), downloads);
    expect(links.downloadUrl(record({}), 'http://kiln')).toBe('https://memory.example/kiln-backups/kiln-backup-1.json?ttl=900');
    expect(await links.downloadTarget(record({}))).toEqual({ redirect: 'https://memory.example/kiln-backups/kiln-backup-1.json?ttl=900' });
  });

  it("a copy only off-site in a store without links: the gateway's own link, and the route streams it from the store", async () => {
    const store = new MemoryDriver(false);
    await store.put('kiln-backups/kiln-backup-1.json', Readable.from([Buffer.from('0123456789')]), {} as PutOptions);
    const links = new BackupLinksService(new BackupCopies(storageWith(store)), downloads);
    expect(links.downloadUrl(record({}), 'http://kiln')).toMatch(/^http:\/\/kiln\/backups\/b1\/download\?token=/);
    const target = (await links.downloadTarget(record({}))) as DownloadSource;
    expect({ bytes: target.bytes, filename: target.filename, fileChecksum: target.fileChecksum }).toEqual({ bytes: 10, filename: 'kiln-backup-1.json', fileChecksum: 'abc' });
    expect(await readAll(await target.open({ start: 2, end: 4 }))).toBe('234');
  });

  it("an app row's cloud copy is read from the app's uploads, never from Kiln's store", async () => {
    const kiln = new MemoryDriver(true);
    const app = new MemoryDriver(true);
    const copies = new BackupCopies(storageWith(kiln, app));
    expect(copies.cloud(record({ origin: BackupOrigin.APP, cloudType: 'upload' }))?.driver).toBe(app);
    expect(copies.cloud(record({}))?.driver).toBe(kiln);
  });

  it('a local copy: always the gateway link, streamed from the folder', async () => {
    writeFileSync(path.join(dir, 'kiln-backup-2.json'), 'local bytes');
    const links = new BackupLinksService(new BackupCopies(storageWith(new MemoryDriver(true))), downloads);
    const local = record({ filename: 'kiln-backup-2.json', localPath: path.join(dir, 'kiln-backup-2.json'), location: BackupLocation.BOTH });
    expect(links.downloadUrl(local, 'http://kiln')).toMatch(/^http:\/\/kiln\/backups\/b1\/download\?token=/);
    const target = (await links.downloadTarget(local)) as DownloadSource;
    expect(await readAll(await target.open())).toBe('local bytes');
    expect(Number.isFinite(target.modifiedAt?.getTime())).toBe(true);
  });

  it('no reachable copy: no link, and STORAGE_UNAVAILABLE for the route', async () => {
    const links = new BackupLinksService(new BackupCopies({ local: new LocalStorageDriver(dir), app: {}, close() {} }), downloads);
    expect(links.downloadUrl(record({}), 'http://kiln')).toBeNull();
    await expect(links.downloadTarget(record({}))).rejects.toMatchObject({ extensions: { code: 'STORAGE_UNAVAILABLE' } });
  });
});
