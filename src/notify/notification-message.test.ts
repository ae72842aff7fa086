import { formatNotification, messageText } from './notification-message';
import { slackPayload } from './slack.channel';
import type { BackupEventData, NotificationEvent } from './webhook-event';

const context = { host: 'kiln-1' };
const at = '2026-03-01T02:00:05.123Z';

const backup = (over: Partial<BackupEventData> = {}): BackupEventData => ({
  jobId: 'job1',
  kind: 'BACKUP',
  status: 'COMPLETED',
  error: null,
  errorCode: null,
  message: null,
  startedAt: at,
  finishedAt: at,
  backupId: 'bk1',
  filename: 'kiln-backup-2026-03-01.json.gz',
  type: 'SCHEDULED',
  location: 'BOTH',
  fileSize: 1_234_567,
  compressed: true,
  encrypted: true,
  checksum: 'ab'.repeat(32),
  storedLocally: true,
  storedInCloud: true,
  cloudError: null,
  ...over,
});

const event = (type: NotificationEvent['type'], data: unknown): NotificationEvent => ({ id: 'ev1', type, occurredAt: at, data }) as NotificationEvent;

describe('formatNotification', () => {
  it('says a backup completed, with its file, size and job, and asks nothing', () => {
    const m = formatNotification(event('backup.completed', backup()), context);
    expect(m.title).toBe('Kiln backup completed on kiln-1: kiln-backup-2026-03-01.json.gz');
    expect(m.lines).toEqual([
      'Backup bk1 (SCHEDULED) completed at 2026-03-01 02:00:05 UTC.',
      'File: kiln-backup-2026-03-01.json.gz (1.2 MB, compressed, encrypted)',
      'Stored on this server and in the cloud.',
      'Job: job1 (BACKUP, COMPLETED)',
    ]);
    expect(m.advice).toEqual([]);
  });

  it('says what failed and what to do, from the error code', () => {
    const failed = backup({ status: 'FAILED', error: 'Cloud upload failed after 4 attempts: HTTP 500', errorCode: 'STORAGE_UNAVAILABLE', type: 'MANUAL', location: 'CLOUD', storedInCloud: false, storedLocally: false, fileSize: null, filename: null });
    const m = formatNotification(event('backup.failed', failed), { ...context, consoleUrl: 'https://kiln.example.com' });
    expect(m.title).toBe('Kiln backup FAILED on kiln-1: STORAGE_UNAVAILABLE');
    expect(m.lines[0]).toBe('What failed: Cloud upload failed after 4 attempts: HTTP 500');
    expect(m.lines).toContain('Location asked for: CLOUD.');
    expect(m.lines.at(-1)).toBe('Console: https://kiln.example.com');
    expect(m.advice).toEqual([expect.stringMatching(/^Check CLOUDINARY_URL and the network .*, then run a backup \(kiln backup --wait\)\.$/)]);
    const text = messageText(m);
    expect(text.split('\n\n')).toEqual([m.title, m.lines.join('\n'), `What to do:\n- ${m.advice[0]}`]);
  });

  it('tells a backup that never started from one interrupted, and a cancelled one', () => {
    const unstarted = formatNotification(event('backup.failed', backup({ jobId: null, status: 'FAILED', error: 'did not run: another job still held the job lease' })), context);
    expect(unstarted.advice[0]).toMatch(/could not start: another job held the job lease/);
    expect(unstarted.advice[1]).toMatch(/next scheduled backup will also try again/);
    const interrupted = formatNotification(event('backup.failed', backup({ status: 'FAILED', error: 'interrupted: the gateway stopped' })), context);
    expect(interrupted.advice[0]).toMatch(/gateway running it stopped/);
    const cancelled = formatNotification(event('backup.failed', backup({ status: 'CANCELLED', type: 'MANUAL' })), context);
    expect(cancelled.title).toBe('Kiln backup CANCELLED on kiln-1');
    expect(cancelled.advice).toEqual(['Someone cancelled it: run a backup (kiln backup --wait) if one is still needed.']);
  });

  it('formats restores, drills, suspicious backups, health and tests', () => {
    const job = { jobId: 'job2', kind: 'RESTORE', status: 'FAILED', error: 'Backup file checksum mismatch', errorCode: 'BACKUP_CORRUPT', message: null, startedAt: at, finishedAt: at };
    const restore = formatNotification(event('restore.failed', { ...job, backupId: 'bk1', filename: 'f.json.gz', safetyBackupId: 'bk0' }), context);
    expect(restore.title).toBe('Kiln restore FAILED on kiln-1: BACKUP_CORRUPT');
    expect(restore.lines).toContain('The data from just before is in the safety backup bk0.');
    expect(restore.advice.join(' ')).toMatch(/verify it \(kiln verify <id> --wait\).*restore again \(kiln restore bk1\)/);

    const drill = formatNotification(
      event('drill.failed', {
        ...job,
        kind: 'VERIFY',
        errorCode: null,
        error: null,
        backupId: 'bk1',
        filename: 'f.json.gz',
        checks: [
          { name: 'checksum', passed: true, detail: null },
          { name: 'row counts', passed: false, detail: 'Loan: 10 in the file, 9 restored' },
        ],
      }),
      context,
    );
    expect(drill.title).toBe('Kiln restore drill FAILED on kiln-1: f.json.gz');
    expect(drill.lines).toContain('- row counts: Loan: 10 in the file, 9 restored');
    expect(drill.advice[1]).toBe('Run a new backup (kiln backup --wait) and drill it (kiln verify <id> --drill --wait).');
    const passed = formatNotification(event('drill.completed', { ...job, status: 'COMPLETED', backupId: 'bk1', filename: 'f.json.gz', checks: [{ name: 'checksum', passed: true, detail: null }] }), context);
    expect([passed.title, passed.advice]).toEqual(['Kiln restore drill passed on kiln-1: f.json.gz', []]);

    const suspicious = formatNotification(
      event('backup.suspicious', { backupId: 'bk9', filename: 'g.json.gz', type: 'SCHEDULED', dataBytes: 2000, previousBackupId: 'bk8', previousDataBytes: 2_000_000, reasons: ['data shrank by 99.9% since the previous backup'] }),
      context,
    );
    expect(suspicious.title).toBe('Kiln backup looks SUSPICIOUS on kiln-1: g.json.gz');
    expect(suspicious.lines).toContain('- data shrank by 99.9% since the previous backup');
    expect(suspicious.lines).toContain('File: g.json.gz, 2.0 KB of data (the previous backup bk8: 2.0 MB).');
    expect(suspicious.advice.join(' ')).toMatch(/Keep the previous backup bk8/);

    const unhealthy = formatNotification(event('health.unhealthy', { healthy: false, problems: ['No backup has completed yet'], lastSuccessfulBackupAt: null, lastFailedBackupAt: null, failedLast24h: 0 }), context);
    expect(unhealthy.title).toBe('Kiln backups UNHEALTHY on kiln-1');
    expect(unhealthy.lines).toContain('- No backup has completed yet');
    const test = formatNotification(event('notification.test', { channel: 'email', requestedBy: 'root@kiln.test' }), context);
    expect(test.title).toBe('Kiln test notification from kiln-1');
  });
});

describe('slackPayload', () => {
  it('sends the whole text, escaped, and blocks with the title, the facts and what to do', () => {
    const m = { title: 'T <1>', lines: ['a & b'], advice: ['do <this>'] };
    const payload = slackPayload(m);
    expect(payload.text).toBe('T &lt;1&gt;\n\na &amp; b\n\nWhat to do:\n- do &lt;this&gt;');
    expect(payload.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: 'T <1>' } },
      { type: 'section', text: { type: 'mrkdwn', text: 'a &amp; b' } },
      { type: 'section', text: { type: 'mrkdwn', text: '*What to do*\n• do &lt;this&gt;' } },
    ]);
  });
});
