import { registerEnumType } from 'type-graphql';

export enum BackupLocation {
  LOCAL = 'LOCAL',
  CLOUD = 'CLOUD',
  BOTH = 'BOTH',
}

export enum BackupStatus {
  IN_PROGRESS = 'IN_PROGRESS',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}

export enum BackupType {
  MANUAL = 'MANUAL',
  SCHEDULED = 'SCHEDULED',
  PRE_RESTORE = 'PRE_RESTORE',
  PRE_RESET = 'PRE_RESET',
}

registerEnumType(BackupLocation, { name: 'BackupLocation' });
registerEnumType(BackupStatus, { name: 'BackupStatus' });
registerEnumType(BackupType, { name: 'BackupType' });
