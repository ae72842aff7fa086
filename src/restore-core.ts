import type { DataSource } from 'typeorm';
import { AuditLogService } from './audit/audit-log.service';
import { DownloadTokenService } from './auth/token.service';
import { BackupService } from './backup/backup.service';
import type { BackupSigner } from './backup/format/backup-signature';
import type { KilnConfig } from './config/config';
import type { JobEventBus } from './jobs/job-event-bus';
import { JobRunner } from './jobs/job-runner';
import type { Logger } from './logging/logger';
import { RestoreService } from './restore/restore.service';
import { createBackupStorage, type BackupStorage } from './storage/storage-factory';
import { MaintenanceService } from './system/maintenance.service';

export interface RestoreCore {
  audit: AuditLogService;
  maintenance: MaintenanceService;
  jobs: JobRunner;
  backups: BackupService;
  /** Signs and checks the download links of backups. */
  downloads: DownloadTokenService;
  restore: RestoreService;
}

/**
 * The services a backup or restore runs on, wired one way: the gateway starts with them (and adds
 * the rest), and `kiln file restore` needs nothing more to run the same restore without a gateway.
 */
export function createRestoreCore(
  dataSource: DataSource,
  config: KilnConfig,
  parts: {
    jobEvents: JobEventBus;
    logger: Logger;
    instanceId: string;
    /** Earlier instances of this gateway known to be gone (their jobs are failed at once). */
    goneInstanceIds?: string[];
    jwtSecret: string;
    signer: BackupSigner;
    /** The gateway's stores, from the factory; without it, BACKUP_DIR alone (the offline restore needs no off-site store). */
    storage?: BackupStorage;
  },
): RestoreCore {
  const audit = new AuditLogService(dataSource, parts.logger.child({ component: 'audit' }));
  const maintenance = new MaintenanceService(dataSource, audit);
  const jobs = new JobRunner(dataSource, parts.jobEvents, parts.logger, parts.instanceId, {
    leaseTtlMs: config.jobs.leaseTtlMs,
    heartbeatMs: Math.min(5000, config.jobs.leaseTtlMs / 3),
    goneInstanceIds: parts.goneInstanceIds,
    queueHeld: async () => (await maintenance.get()).enabled,
  });
  const downloads = new DownloadTokenService(parts.jwtSecret, config.backup.downloadUrlTtlSeconds);
  const storage = parts.storage ?? createBackupStorage(config, parts.logger, { offsite: false });
  const backups = new BackupService(dataSource, jobs, storage, audit, downloads, parts.signer, config.encryption, { sessions: config.backup.readSessions }, config.backup.read);
  const restore = new RestoreService(
    dataSource,
    jobs,
    backups,
    maintenance,
    audit,
    { maxBytes: config.backup.maxUploadBytes, minFreeBytes: config.backup.uploadMinFreeBytes },
    config.backup.read,
  );
  return { audit, maintenance, jobs, backups, downloads, restore };
}
