import { BackupLocation, BackupType } from '../backup/backup.enums';
import { ConflictError } from '../errors/kiln-errors';
import { createLogger } from '../logging/logger';
import { BackupScheduler } from './backup-scheduler';

/** A scheduler over fakes: the claim always wins, the lease is busy `busyTimes` times. */
function harness(busyTimes: number, options: { busyRetryMs: number; busyTimeoutMs: number }) {
  const calls = { create: 0, failed: [] as string[], started: 0, queries: [] as string[] };
  const dataSource = { query: async (sql: string) => (calls.queries.push(sql), [{ scheduledFor: new Date() }]) };
  const schedules = {
    get: async () => ({ location: BackupLocation.LOCAL, includeAuditLogs: false, includeSessions: false }),
    markBackupStarted: async () => void calls.started++,
  };
  const backups = {
    create: async (_o: unknown, type: BackupType) => {
      expect(type).toBe(BackupType.SCHEDULED);
      if (calls.create++ < busyTimes) throw new ConflictError('Another job is running: job-1');
      return { id: 'job-2', backupId: 'backup-2' };
    },
    recordFailed: async (_o: unknown, _t: BackupType, reason: string) => (calls.failed.push(reason), { id: 'failed-1' }),
  };
  const scheduler = new BackupScheduler(dataSource as any, schedules as any, backups as any, createLogger('silent'), {
    instanceId: 'test',
    pollMs: 1000,
    ...options,
  });
  const fire = (at: Date): Promise<void> => (scheduler as any).fire(at);
  return { calls, fire, scheduler };
}

describe('a scheduled fire while another job holds the lease', () => {
  it('waits and then starts the backup', async () => {
    const { calls, fire } = harness(2, { busyRetryMs: 10, busyTimeoutMs: 1000 });
    await fire(new Date('2026-01-01T01:00:00.400Z'));
    expect(calls.create).toBe(3);
    expect(calls.failed).toEqual([]);
    expect(calls.started).toBe(1);
  });

  it('gives up after the bound and records a FAILED backup with the reason', async () => {
    const { calls, fire } = harness(Infinity, { busyRetryMs: 10, busyTimeoutMs: 50 });
    await fire(new Date('2026-01-01T01:00:00.400Z'));
    expect(calls.create).toBeGreaterThan(1);
    expect(calls.failed).toHaveLength(1);
    expect(calls.failed[0]).toMatch(/^Scheduled backup for 2026-01-01T01:00:00.000Z did not run: another job still held the job lease.*job-1/);
    expect(calls.started).toBe(0);
  });

  it('records a FAILED backup when the gateway stops while it waits', async () => {
    const { calls, fire, scheduler } = harness(Infinity, { busyRetryMs: 60_000, busyTimeoutMs: 300_000 });
    const firing = fire(new Date('2026-01-01T01:00:00Z'));
    await new Promise((r) => setTimeout(r, 20));
    await scheduler.stop();
    await firing;
    expect(calls.failed[0]).toMatch(/gateway stopped/);
  });
});
