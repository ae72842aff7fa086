import type {
  BackupEventData,
  DrillEventData,
  HealthEventData,
  JobEventData,
  NotificationEvent,
  RestoreEventData,
  SuspiciousBackupEventData,
} from './webhook-event';

/** One event as people read it, whatever the channel: email, Slack and Telegram all render this. */
export interface NotificationMessage {
  /** One line: what happened, where. The email's subject. */
  title: string;
  /** The facts, one a line. */
  lines: string[];
  /** What to do about it, one step a line (empty when nothing needs doing). */
  advice: string[];
}

export interface MessageContext {
  /** Names the gateway in every title (its host name). */
  host: string;
  /** The console's address (PUBLIC_URL), when known. */
  consoleUrl?: string;
}

/** Turns an event into the message every human channel sends. Pure. */
export function formatNotification(event: NotificationEvent, context: MessageContext): NotificationMessage {
  const message = body(event, context.host);
  if (context.consoleUrl) message.lines.push(`Console: ${context.consoleUrl}`);
  return message;
}

/** The message as plain text: the title, the facts, then "What to do". */
export function messageText(message: NotificationMessage): string {
  const parts = [message.title, message.lines.join('\n')];
  if (message.advice.length > 0) parts.push(['What to do:', ...message.advice.map((a) => `- ${a}`)].join('\n'));
  return parts.filter(Boolean).join('\n\n');
}

function body(event: NotificationEvent, host: string): NotificationMessage {
  switch (event.type) {
    case 'backup.completed':
      return backupCompleted(event.data, host);
    case 'backup.failed':
      return backupFailed(event.data, host);
    case 'backup.suspicious':
      return backupSuspicious(event.data, host);
    case 'restore.completed':
      return restoreCompleted(event.data, host);
    case 'restore.failed':
      return restoreFailed(event.data, host);
    case 'drill.completed':
    case 'drill.failed':
      return drill(event.data, event.type === 'drill.completed', host);
    case 'health.unhealthy':
    case 'health.healthy':
      return health(event.data, host);
    case 'notification.test':
      return {
        title: `Kiln test notification from ${host}`,
        lines: [
          `This is a test message on the ${event.data.channel} channel${event.data.requestedBy ? `, sent at the request of ${event.data.requestedBy}` : ''}.`,
          'If you can read it, Kiln can reach you here when a backup or restore fails.',
        ],
        advice: [],
      };
  }
}

function backupCompleted(d: BackupEventData, host: string): NotificationMessage {
  const lines = [`Backup ${d.backupId ?? '(no id)'}${kindOf(d.type)} completed${d.finishedAt ? ` at ${when(d.finishedAt)}` : ''}.`, ...backupFacts(d)];
  const advice: string[] = [];
  if (d.cloudError) {
    lines.push(`The cloud copy failed: ${d.cloudError}`);
    advice.push('The local copy is safe. Check CLOUDINARY_URL and the network, then run a backup (kiln backup --wait) to get a cloud copy again.');
  }
  return { title: `Kiln backup completed on ${host}${d.filename ? `: ${d.filename}` : ''}`, lines, advice };
}

function backupFailed(d: BackupEventData, host: string): NotificationMessage {
  const cancelled = d.status === 'CANCELLED';
  const title = `Kiln backup ${cancelled ? 'CANCELLED' : 'FAILED'} on ${host}${d.errorCode ? `: ${d.errorCode}` : ''}`;
  const lines = [
    `What failed: ${d.error ?? (cancelled ? 'the backup was cancelled' : 'no error was recorded')}`,
    `Backup ${d.backupId ?? '(none recorded)'}${kindOf(d.type)}${d.finishedAt ? `, ended ${when(d.finishedAt)}` : ''}.`,
    ...backupFacts(d),
  ];
  const again = 'run a backup (kiln backup --wait)';
  const advice = cancelled ? [`Someone cancelled it: ${again} if one is still needed.`] : [`${cause(d, 'backup')}, then ${again}.`];
  if (d.type === 'SCHEDULED' && !cancelled) advice.push('The next scheduled backup will also try again on its own (kiln status shows when).');
  return { title, lines, advice };
}

function backupSuspicious(d: SuspiciousBackupEventData, host: string): NotificationMessage {
  const lines = [
    `Backup ${d.backupId}${kindOf(d.type)} completed, but it does not look like the ones before it:`,
    ...d.reasons.map((r) => `- ${r}`),
    `File: ${d.filename}, ${bytes(d.dataBytes)} of data${d.previousDataBytes != null ? ` (the previous backup${d.previousBackupId ? ` ${d.previousBackupId}` : ''}: ${bytes(d.previousDataBytes)})` : ''}.`,
  ];
  const advice = [
    'Check that the lending data is whole: was data deleted or a table emptied on purpose?',
    d.previousBackupId
      ? `Keep the previous backup ${d.previousBackupId} until you know (retention may delete old backups): it may be the last good one.`
      : 'Keep the older backups until you know (retention may delete them).',
    'If the data is wrong, restore the last good backup (kiln restore <id>) in maintenance mode.',
  ];
  return { title: `Kiln backup looks SUSPICIOUS on ${host}: ${d.filename}`, lines, advice };
}

function restoreCompleted(d: RestoreEventData, host: string): NotificationMessage {
  const lines = [
    `The lending data was restored from ${source(d)}${d.finishedAt ? ` at ${when(d.finishedAt)}` : ''}.`,
    ...(d.safetyBackupId ? [`The data from just before is in the safety backup ${d.safetyBackupId}.`] : []),
    ...jobLine(d),
  ];
  const advice = [
    'Everyone was signed out: sign in again and check the lending data.',
    'Then turn maintenance mode off (kiln maintenance off) so the app can be used again.',
  ];
  return { title: `Kiln restore completed on ${host}`, lines, advice };
}

function restoreFailed(d: RestoreEventData, host: string): NotificationMessage {
  const cancelled = d.status === 'CANCELLED';
  const lines = [
    `What failed: ${d.error ?? (cancelled ? 'the restore was cancelled' : 'no error was recorded')}`,
    `Restoring from ${source(d)}${d.finishedAt ? `, ended ${when(d.finishedAt)}` : ''}.`,
    ...(d.safetyBackupId ? [`The data from just before is in the safety backup ${d.safetyBackupId}.`] : []),
    ...jobLine(d),
  ];
  const again = `restore again (kiln restore${d.backupId ? ` ${d.backupId}` : ' --file <file>'})`;
  const advice = [
    'A restore is one transaction: check that the lending data is as it was before it.',
    cancelled ? `Someone cancelled it: ${again} if it is still needed.` : `${cause(d, 'restore')}, then ${again}.`,
    'Maintenance mode is still on: turn it off (kiln maintenance off) once the data is right.',
  ];
  return { title: `Kiln restore ${cancelled ? 'CANCELLED' : 'FAILED'} on ${host}${d.errorCode ? `: ${d.errorCode}` : ''}`, lines, advice };
}

function drill(d: DrillEventData, passed: boolean, host: string): NotificationMessage {
  const failed = d.checks.filter((c) => !c.passed);
  const name = d.filename ?? d.backupId ?? 'a backup';
  const lines = [
    passed
      ? `A restore drill of backup ${d.backupId ?? '(unknown)'} passed: it restored into a scratch schema and matched (${d.checks.length} check(s)).`
      : `A restore drill of backup ${d.backupId ?? '(unknown)'} FAILED: ${failed.length} of ${d.checks.length} check(s) did not pass.`,
    ...(passed ? [] : failed.map((c) => `- ${c.name}${c.detail ? `: ${c.detail}` : ''}`)),
    ...(d.error ? [`What failed: ${d.error}`] : []),
    ...jobLine(d),
  ];
  const advice = passed
    ? []
    : [
        'Do not count on this backup for a restore.',
        `${d.errorCode ? `${cause(d, 'drill')}, then r` : 'R'}un a new backup (kiln backup --wait) and drill it (kiln verify <id> --drill --wait).`,
      ];
  return { title: `Kiln restore drill ${passed ? 'passed' : 'FAILED'} on ${host}: ${name}`, lines, advice };
}

function health(d: HealthEventData, host: string): NotificationMessage {
  const lines = [
    ...(d.healthy ? ['Backups are healthy again.'] : ['Backups need attention:', ...d.problems.map((p) => `- ${p}`)]),
    `Last good backup: ${d.lastSuccessfulBackupAt ? when(d.lastSuccessfulBackupAt) : 'never'}; last failed: ${d.lastFailedBackupAt ? when(d.lastFailedBackupAt) : 'never'}; failed in the last 24 hours: ${d.failedLast24h}.`,
  ];
  const advice = d.healthy ? [] : ['Fix each problem above (kiln status lists them), then run a backup (kiln backup --wait).'];
  return { title: d.healthy ? `Kiln backups are healthy again on ${host}` : `Kiln backups UNHEALTHY on ${host}`, lines, advice };
}

/** What to check, from the job's error code (its error text for the codes that have none). */
function cause(d: JobEventData, what: 'backup' | 'restore' | 'drill'): string {
  switch (d.errorCode) {
    case 'STORAGE_UNAVAILABLE':
      return what === 'restore'
        ? 'Check that the backup file can be read: CLOUDINARY_URL and the network for a cloud copy, BACKUP_DIR for a local one'
        : 'Check CLOUDINARY_URL and the network (cloud copies) and the free space and permissions of BACKUP_DIR (local copies)';
    case 'BACKUP_CORRUPT':
      return 'The backup file is damaged, altered or not readable with the configured keys: verify it (kiln verify <id> --wait) and use another backup, or set BACKUP_DECRYPTION_KEYS for an older key';
    case 'MAINTENANCE_REQUIRED':
      return 'Turn maintenance mode on first (kiln maintenance on)';
    case 'CONFLICT':
      return 'Another job was running (one backup, restore or reset at a time): wait for it to end (kiln status)';
    case 'BAD_USER_INPUT':
    case 'NOT_FOUND':
      return 'Check what was asked for (kiln backups lists the stored backups)';
    case 'INTERNAL':
      return "Kiln met an unexpected error: find its reference in the gateway's log and fix the cause";
  }
  if (d.error?.startsWith('interrupted')) return 'The gateway running it stopped (a crash or a restart): check that Kiln is running (kiln status)';
  if (d.jobId === null) return 'It could not start: another job held the job lease for too long; check for a stuck job (kiln status)';
  return 'Read "What failed" above and fix its cause';
}

function backupFacts(d: BackupEventData): string[] {
  const lines: string[] = [];
  if (d.filename) {
    const traits = [d.fileSize != null ? bytes(d.fileSize) : null, d.compressed ? 'compressed' : null, d.encrypted ? 'encrypted' : null].filter(Boolean);
    lines.push(`File: ${d.filename}${traits.length ? ` (${traits.join(', ')})` : ''}`);
  }
  const stored = [d.storedLocally ? 'on this server' : null, d.storedInCloud ? 'in the cloud' : null].filter(Boolean);
  if (d.status === 'COMPLETED' && stored.length > 0) lines.push(`Stored ${stored.join(' and ')}.`);
  else if (d.location) lines.push(`Location asked for: ${d.location}.`);
  return [...lines, ...jobLine(d)];
}

function jobLine(d: JobEventData): string[] {
  return d.jobId ? [`Job: ${d.jobId} (${d.kind}, ${d.status})`] : [];
}

function source(d: RestoreEventData): string {
  if (d.backupId) return `backup ${d.backupId}${d.filename ? ` (${d.filename})` : ''}`;
  return d.filename ? `the uploaded file ${d.filename}` : 'an uploaded file';
}

function kindOf(type: string | null): string {
  return type ? ` (${type})` : '';
}

/** An ISO time as people read it, in UTC. */
function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
