import type { BackupAnomaly } from '../backup/backup-anomalies';
/**
 * What a notification can announce, on every channel; webhook receivers branch on `type` (also in
 * X-Kiln-Event). Each type's data is in NotificationEventMap.
 */
export type WebhookEventType = keyof NotificationEventMap;

/** The same events, named for the channels that are not webhooks. */
export type NotificationEventType = WebhookEventType;

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

/** drill.*: a restore drill (a backup restored into a scratch schema and compared) and its checks. */
export interface DrillEventData extends JobEventData {
  backupId: string | null;
  filename: string | null;
  checks: Array<{ name: string; passed: boolean; detail: string | null }>;
}

/** backup.suspicious: what Kiln's anomaly check found (see BackupAnomalies). */
export type SuspiciousBackupEventData = BackupAnomaly;

/** notification.test: sent only by the testNotification mutation, on the one channel it names. */
export interface TestEventData {
  channel: string;
  /** The admin who asked for it. */
  requestedBy: string | null;
}

/** Every event type with the shape of its data. */
export interface NotificationEventMap {
  'backup.completed': BackupEventData;
  'backup.failed': BackupEventData;
  'backup.suspicious': SuspiciousBackupEventData;
  'restore.completed': RestoreEventData;
  'restore.failed': RestoreEventData;
  'drill.completed': DrillEventData;
  'drill.failed': DrillEventData;
  'health.unhealthy': HealthEventData;
  'health.healthy': HealthEventData;
  'notification.test': TestEventData;
}

export type WebhookEventData = NotificationEventMap[WebhookEventType];

/** The JSON body of every delivery. `id` stays the same on every retry (and on every channel): receivers de-duplicate on it. */
export interface WebhookEvent<T extends WebhookEventType = WebhookEventType> {
  id: string;
  type: T;
  occurredAt: string;
  data: NotificationEventMap[T];
}

/** One event as every channel receives it: a union on `type`, so a switch on it narrows `data`. */
export type NotificationEvent = { [K in NotificationEventType]: WebhookEvent<K> }[NotificationEventType];
