// UNKNOWN: a value in the app's `backup_records` that neither the app nor Kiln
// knows. Such a row is listed (its stored value in Backup.appValues, a warning
// in Backup.warnings), never an error; UNKNOWN is refused as input.

export enum BackupLocation {
  LOCAL = 'LOCAL',
  CLOUD = 'CLOUD',
  BOTH = 'BOTH',
  UNKNOWN = 'UNKNOWN',
}

export enum BackupStatus {
  IN_PROGRESS = 'IN_PROGRESS',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  UNKNOWN = 'UNKNOWN',
}

export enum BackupType {
  MANUAL = 'MANUAL',
  SCHEDULED = 'SCHEDULED',
  PRE_RESTORE = 'PRE_RESTORE',
  PRE_RESET = 'PRE_RESET',
  UNKNOWN = 'UNKNOWN',
}

/** Who wrote the backup: the lending app's own backup feature, or Kiln. */
export enum BackupOrigin {
  APP = 'APP',
  KILN = 'KILN',
}
