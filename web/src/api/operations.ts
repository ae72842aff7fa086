import { gql } from '@urql/core';

const BACKUP_FIELDS = `id filename type status location origin createdAt completedAt fileSize compressed encrypted
  storedLocally storedInCloud cloudError lastVerifiedAt warnings error includeAuditLogs includeSessions
  createdBy { email }`;

export const JOB_FIELDS = `id kind status phase table percent rowsDone rowsTotal bytesDone etaSeconds message error errorCode
  createdAt startedAt finishedAt requestedBy { email } backup { id filename }
  verification { ok checks { name ok detail } }`;

export const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token expiresAt user { email } }
}`;


export const OVERVIEW = gql`query Overview {
  backupHealth { healthy problems notes lastSuccessfulBackupAt lastFailedBackupAt nextScheduledAt totalBackups totalBytes localBytes cloudBytes failedLast24h }
  maintenanceMode { enabled reason since enabledBy { email } }
  backupSchedule { frequency timezone nextBackupAt drillFrequency nextDrillAt }
}`;

export const BACKUPS = gql`query Backups($filter: BackupFilter, $limit: Int, $offset: Int) {
  backups(filter: $filter, limit: $limit, offset: $offset) { total items { ${BACKUP_FIELDS} } }
  backupSchedule { timezone }
}`;

export const BACKUP_DETAIL = gql`query BackupDetail($id: ID!) { backup(id: $id) { ${BACKUP_FIELDS} recordCounts } }`;

export const DOWNLOAD_URL = gql`query DownloadUrl($id: ID!) { backup(id: $id) { id downloadUrl } }`;

export const CREATE_BACKUP = gql`mutation CreateBackup($input: CreateBackupInput) { createBackup(input: $input) { ${JOB_FIELDS} } }`;
export const VERIFY_BACKUP = gql`mutation VerifyBackup($id: ID!, $drill: Boolean) { verifyBackup(id: $id, restoreDrill: $drill) { ${JOB_FIELDS} } }`;
export const DELETE_BACKUP = gql`mutation DeleteBackup($id: ID!) { deleteBackup(id: $id) }`;
export const RESTORE_STORED = gql`mutation RestoreStored($id: ID!) { restoreBackup(id: $id) { ${JOB_FIELDS} } }`;
export const RESTORE_UPLOAD = `mutation RestoreUpload($file: Upload!, $allowUnsigned: Boolean!) {
  restoreBackup(file: $file, allowUnsigned: $allowUnsigned) { id }
}`;
export const INSPECT_UPLOAD = `mutation InspectUpload($file: Upload!) {
  inspectBackupFile(file: $file) { filename bytes createdAt kilnVersion encrypted signature rows tables { name rows } tablesKept }
}`;

export const JOBS = gql`query Jobs { jobs(limit: 20) { ${JOB_FIELDS} } }`;
export const JOB_PROGRESS = gql`subscription JobProgress { jobProgress { ${JOB_FIELDS} } }`;
export const CANCEL_JOB = gql`mutation CancelJob($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`;

const SCHEDULE_FIELDS = `frequency cron timezone location retentionDays keepAtLeast includeAuditLogs includeSessions
  nextBackupAt lastBackupAt updatedAt warnings drillFrequency drillCron nextDrillAt`;
export const SCHEDULE_ZONE = gql`query ScheduleZone { backupSchedule { timezone } }`;
export const SCHEDULE = gql`query Schedule { backupSchedule { ${SCHEDULE_FIELDS} } }`;
export const SCHEDULE_PREVIEW = gql`query SchedulePreview($draft: BackupScheduleInput) {
  nextBackupRuns(schedule: $draft, count: 5) { at local }
  retentionPreview(schedule: $draft) { cutoff retentionDays keepAtLeast totalBytes backups { id filename createdAt fileSize } }
}`;
export const UPDATE_SCHEDULE = gql`mutation UpdateSchedule($input: BackupScheduleInput!) { updateBackupSchedule(input: $input) { ${SCHEDULE_FIELDS} } }`;

export const MAINTENANCE = gql`query Maintenance { maintenanceMode { enabled reason since enabledBy { email } } }`;
export const SET_MAINTENANCE = gql`mutation SetMaintenance($enabled: Boolean!, $reason: String) {
  setMaintenanceMode(enabled: $enabled, reason: $reason) { enabled reason since enabledBy { email } }
}`;
export const RESET_SYSTEM = gql`mutation ResetSystem($confirmation: String!) {
  resetSystem(confirmation: $confirmation) { superAdminEmail temporaryPassword job { ${JOB_FIELDS} } }
}`;
export const DEPENDENCIES = gql`query Dependencies($entityType: DependencyEntity!, $entityId: ID!) {
  deletionDependencies(entityType: $entityType, entityId: $entityId) { canDelete suggestions dependencies { type count message } }
}`;
