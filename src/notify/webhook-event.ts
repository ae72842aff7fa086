/** What a webhook delivery can announce; receivers branch on `type` (also in X-Kiln-Event). */
export type WebhookEventType =
  | 'backup.completed'
  | 'backup.failed'
  | 'restore.completed'
  | 'restore.failed'
  | 'health.unhealthy'
  | 'health.healthy';

/** Facts about the job an event comes from. */
export interface JobEventData {
  /** null for a backup that could not even start (no job ran it). */
  jobId: string | null;
  kind: string;
  status: string;
  error: string | null;
  errorCode: string | null;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** backup.*: the job, plus the backup record it wrote (MANUAL, SCHEDULED or a PRE_RESTORE/PRE_RESET safety backup). */
export interface BackupEventData extends JobEventData {
  backupId: string | null;
  filename: string | null;
  type: string | null;
  location: string | null;
  fileSize: number | null;
  compressed: boolean | null;
  encrypted: boolean | null;
  checksum: string | null;
  storedLocally: boolean | null;
  storedInCloud: boolean | null;
  cloudError: string | null;
}

/** restore.*: the job, what it restored from, and the safety backup it took. */
export interface RestoreEventData extends JobEventData {
  /** The stored backup restored from; null for an uploaded file. */
  backupId: string | null;
  filename: string | null;
  safetyBackupId: string | null;
}

/** health.*: the evaluation that changed the state. */
export interface HealthEventData {
  healthy: boolean;
  problems: string[];
  lastSuccessfulBackupAt: string | null;
  lastFailedBackupAt: string | null;
  failedLast24h: number;
}

export type WebhookEventData = BackupEventData | RestoreEventData | HealthEventData;

/** The JSON body of every delivery. `id` stays the same on every retry: receivers de-duplicate on it. */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  occurredAt: string;
  data: WebhookEventData;
}
