import type { KilnConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import { CloudinaryStorageDriver } from './cloudinary-storage.driver';
import { LocalStorageDriver } from './local-storage.driver';
import type { StorageDriver } from './storage-driver';

/**
 * Where backups are kept. Every backup is written to `local` first; CLOUD and
 * BOTH copy it to `offsite`. The lending app's own rows may point at files in
 * `app` (its APP_BACKUP_DIR and its public cloud uploads), which Kiln reads and
 * deletes but never writes.
 */
export interface BackupStorage {
  /** BACKUP_DIR. */
  local: LocalStorageDriver;
  /** The off-site store of CLOUD and BOTH backups; undefined when none is configured. */
  offsite?: StorageDriver;
  app: { local?: LocalStorageDriver; offsite?: StorageDriver };
  /** Releases every driver's connections (on shutdown). */
  close(): void;
}

export type StorageConfig = Pick<KilnConfig, 'backup' | 'cloud'>;

/** An off-site driver and the configuration that turns it on. */
export interface OffsiteDriverRegistration {
  /** What logs call it. */
  name: string;
  /** Kiln's store (and where the app's own uploads are, if it has any), or undefined when the configuration does not ask for it. */
  create(config: StorageConfig, logger: Logger): { kiln: StorageDriver; app?: StorageDriver } | undefined;
}

/** Off-site drivers, the first configured one wins. Adding a storage target: its driver file, and one line here. */
export const OFFSITE_DRIVERS: readonly OffsiteDriverRegistration[] = [
  {
    name: 'cloudinary',
    create: (config, logger) =>
      config.cloud && { kiln: new CloudinaryStorageDriver(config.cloud, logger), app: new CloudinaryStorageDriver(config.cloud, logger, 'upload') },
  },
];

/**
 * The storage the configuration describes. `offsite: false` leaves the off-site
 * store out even when configured (the offline `kiln file restore` never needs it).
 */
export function createBackupStorage(
  config: StorageConfig,
  logger: Logger,
  options: { offsite?: boolean; drivers?: readonly OffsiteDriverRegistration[] } = {},
): BackupStorage {
  const local = new LocalStorageDriver(config.backup.dir);
  const appDir = config.backup.appDir;
  let offsite: { kiln: StorageDriver; app?: StorageDriver } | undefined;
  if (options.offsite !== false) {
    for (const registration of options.drivers ?? OFFSITE_DRIVERS) {
      offsite = registration.create(config, logger.child({ component: 'storage', driver: registration.name }));
      if (offsite) break;
    }
  }
  return {
    local,
    offsite: offsite?.kiln,
    app: { local: appDir && appDir !== local.dir ? new LocalStorageDriver(appDir) : undefined, offsite: offsite?.app },
    close() {
      offsite?.kiln.close();
      offsite?.app?.close();
    },
  };
}
