import { BackupFormatError } from '../backup/format/backup-reader';
import { DecryptionError } from '../crypto/encryption';
import { ConflictError } from './kiln-errors';
import { toKilnError } from './to-kiln-error';

describe('toKilnError', () => {
  it('passes Kiln’s own errors as they are', () => {
    const conflict = new ConflictError('busy');
    expect(toKilnError(conflict)).toBe(conflict);
  });

  it('makes a malformed or undecryptable backup BACKUP_CORRUPT', () => {
    expect(toKilnError(new BackupFormatError('expected a row', 7))).toMatchObject({
      message: 'Not a valid Kiln backup: line 7: expected a row',
      extensions: { code: 'BACKUP_CORRUPT' },
    });
    expect(toKilnError(new DecryptionError('UNKNOWN_KEY', 'no key'))).toMatchObject({
      message: 'no key',
      extensions: { code: 'BACKUP_CORRUPT', reason: 'UNKNOWN_KEY' },
    });
  });

  it('names a full disk by its code only, never its path', () => {
    const full = Object.assign(new Error("ENOSPC: no space left on device, open '/srv/backups/x.partial'"), { code: 'ENOSPC', syscall: 'open' });
    const known = toKilnError(full)!;
    expect(known).toMatchObject({ extensions: { code: 'STORAGE_UNAVAILABLE', errno: 'ENOSPC' } });
    expect(known.message).toBe('Storage failed: the disk is full (ENOSPC)');
  });

  it('leaves anything else to be masked', () => {
    // PostgreSQL's errors carry a code too, but no syscall.
    const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    expect(toKilnError(terminated)).toBeUndefined();
    expect(toKilnError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBeUndefined();
    expect(toKilnError(new TypeError('x is undefined'))).toBeUndefined();
    expect(toKilnError('a string')).toBeUndefined();
    expect(toKilnError(null)).toBeUndefined();
  });
});
