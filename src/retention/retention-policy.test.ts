import { BackupStatus, BackupType } from '../backup/backup.enums';
import { retentionCutoff, selectExpired, type RetentionCandidate } from './retention-policy';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const DAY = 86_400_000;

let seq = 0;
function backup(daysOld: number, status = BackupStatus.COMPLETED, type = BackupType.SCHEDULED): RetentionCandidate {
  return { id: `b${String(++seq).padStart(3, '0')}`, type, status, createdAt: new Date(NOW.getTime() - daysOld * DAY) };
}
const ids = (list: RetentionCandidate[]) => list.map((b) => b.id);
const none = new Set<string>();

describe('retention selection', () => {
  it('deletes what is older than retentionDays, oldest first, and keeps the rest', () => {
    const [fresh, edge, old, older] = [backup(1), backup(29.9), backup(31), backup(45)];
    const picked = selectExpired([fresh, old, edge, older], { retentionDays: 30, keepAtLeast: 1 }, NOW, none);
    expect(ids(picked)).toEqual(ids([older, old]));
  });

  it('keeps the newest keepAtLeast COMPLETED backups whatever their age', () => {
    const all = [backup(100), backup(90), backup(80), backup(70), backup(60)];
    expect(ids(selectExpired(all, { retentionDays: 1, keepAtLeast: 3 }, NOW, none))).toEqual(ids(all.slice(0, 2)));
  });

  it('never counts FAILED backups toward keepAtLeast', () => {
    const completed = [backup(50), backup(49), backup(48), backup(47), backup(46)];
    const failed = Array.from({ length: 10 }, (_, i) => backup(i / 10, BackupStatus.FAILED));
    const picked = selectExpired([...failed, ...completed], { retentionDays: 30, keepAtLeast: 3 }, NOW, none);
    // The failures are new (kept by age); the two oldest completed go; the 3 newest completed stay.
    expect(ids(picked)).toEqual(ids(completed.slice(0, 2)));
    // An old failure goes with them, oldest first (the case test/retention.test.ts ran on real backups).
    const oldFailure = backup(60, BackupStatus.FAILED);
    const withOld = selectExpired([...failed, ...completed, oldFailure], { retentionDays: 30, keepAtLeast: 3 }, NOW, none);
    expect(ids(withOld)).toEqual(ids([oldFailure, ...completed.slice(0, 2)]));
  });

  it('deletes old FAILED backups, and never one IN_PROGRESS, of a status nobody knows, or in use by a job', () => {
    const failed = backup(40, BackupStatus.FAILED);
    const writing = backup(40, BackupStatus.IN_PROGRESS);
    const unknown = backup(40, BackupStatus.UNKNOWN, BackupType.UNKNOWN);
    const read = backup(40);
    const picked = selectExpired([failed, writing, unknown, read, backup(0), backup(0), backup(0)], { retentionDays: 30, keepAtLeast: 3 }, NOW, new Set([read.id]));
    expect(ids(picked)).toEqual([failed.id]);
  });

  it('keeps PRE_RESTORE and PRE_RESET backups 7 days even when retentionDays is shorter', () => {
    const keep = [backup(5, BackupStatus.COMPLETED, BackupType.PRE_RESTORE), backup(6.9, BackupStatus.COMPLETED, BackupType.PRE_RESET)];
    const drop = [backup(8, BackupStatus.COMPLETED, BackupType.PRE_RESTORE), backup(7.1, BackupStatus.FAILED, BackupType.PRE_RESET)];
    const manual = backup(2, BackupStatus.COMPLETED, BackupType.MANUAL);
    const recent = [backup(0), backup(0), backup(0)];
    const picked = selectExpired([...keep, ...drop, manual, ...recent], { retentionDays: 1, keepAtLeast: 3 }, NOW, none);
    expect(ids(picked).sort()).toEqual(ids([...drop, manual]).sort());
    // A longer retentionDays applies to them as to any backup.
    expect(selectExpired([...keep, ...drop, ...recent], { retentionDays: 10, keepAtLeast: 3 }, NOW, none)).toEqual([]);
  });

  it('puts the cutoff retentionDays before now', () => {
    expect(retentionCutoff(NOW, 30).toISOString()).toBe('2026-05-16T12:00:00.000Z');
  });
});
