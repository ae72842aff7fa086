import path from 'node:path';
import { loadConfig } from '../config/config';
import { createLogger } from '../logging/logger';
import { CloudinaryStorageDriver } from './cloudinary-storage.driver';
import { LocalStorageDriver } from './local-storage.driver';
import { createBackupStorage, type OffsiteDriverRegistration } from './storage-factory';

const logger = createLogger('silent');
const CLOUDINARY_URL = 'cloudinary://key:secret@demo?upload_prefix=http://127.0.0.1:9';

describe('the storage the configuration chooses', () => {
  it('BACKUP_DIR alone: local only, nothing off-site', () => {
    const storage = createBackupStorage(loadConfig({ BACKUP_DIR: '/srv/kiln-backups' }), logger);
    expect(storage.local).toBeInstanceOf(LocalStorageDriver);
    expect(storage.local.dir).toBe(path.resolve('/srv/kiln-backups'));
    expect(storage.offsite).toBeUndefined();
    expect(storage.app).toEqual({ local: undefined, offsite: undefined });
    storage.close();
  });

  it("CLOUDINARY_URL: Cloudinary off-site for Kiln's authenticated copies, and for reading the app's public uploads", () => {
    const storage = createBackupStorage(loadConfig({ BACKUP_DIR: '/srv/kiln-backups', CLOUDINARY_URL }), logger);
    expect(storage.offsite).toBeInstanceOf(CloudinaryStorageDriver);
    expect((storage.offsite as CloudinaryStorageDriver).deliveryType).toBe('authenticated');
    expect(storage.app.offsite).toBeInstanceOf(CloudinaryStorageDriver);
    expect((storage.app.offsite as CloudinaryStorageDriver).deliveryType).toBe('upload');
    storage.close();
  });

  it('leaves the off-site store out when asked to (the offline restore), whatever is configured', () => {
    const storage = createBackupStorage(loadConfig({ CLOUDINARY_URL }), logger, { offsite: false });
    expect(storage.offsite).toBeUndefined();
    expect(storage.app.offsite).toBeUndefined();
  });

  it('APP_BACKUP_DIR: a second folder the app writes, unless it is BACKUP_DIR itself', () => {
    const apart = createBackupStorage(loadConfig({ BACKUP_DIR: '/srv/kiln', APP_BACKUP_DIR: '/srv/app' }), logger);
    expect(apart.app.local?.dir).toBe(path.resolve('/srv/app'));
    const same = createBackupStorage(loadConfig({ BACKUP_DIR: '/srv/kiln', APP_BACKUP_DIR: '/srv/kiln' }), logger);
    expect(same.app.local).toBeUndefined();
  });

  it('takes the first registered driver its configuration turns on: adding a target is one registration', () => {
    const made: string[] = [];
    const fake = (name: string, on: boolean): OffsiteDriverRegistration => ({
      name,
      create: () => {
        made.push(name);
        return on ? { kiln: new LocalStorageDriver(`/srv/${name}`) } : undefined;
      },
    });
    const storage = createBackupStorage(loadConfig({}), logger, { drivers: [fake('off', false), fake('s3', true), fake('later', true)] });
    expect((storage.offsite as LocalStorageDriver).dir).toBe('/srv/s3');
    expect(storage.app.offsite).toBeUndefined();
    expect(made).toEqual(['off', 's3']);
  });
});
