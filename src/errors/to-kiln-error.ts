import { BackupFormatError, BackupLimitError, type BackupReadLimits } from '../backup/format/backup-reader';
import { DecryptionError } from '../crypto/encryption';
import { BackupCorruptError, KilnError, StorageUnavailableError } from './kiln-errors';

/**
 * File-system failures an operator can act on (a full disk, a read-only mount): a storage
 * problem to name, not a bug to hide. Only the code is shown, never the path or the message.
 */
const STORAGE_ERRNO: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EIO: 'the disk reported an input/output error',
  EACCES: 'permission denied',
};

/** The setting behind each of the backup reader's limits (a journal segment is read within them too). */
export const LIMIT_SETTINGS: Readonly<Record<keyof BackupReadLimits, string>> = Object.freeze({
  maxLineBytes: 'MAX_BACKUP_LINE_BYTES',
  maxGzipExpansion: 'MAX_GZIP_EXPANSION',
});

/**
 * The one place where other modules' errors become errors a client may see: Kiln's own
 * pass as they are, a malformed or undecryptable backup is BACKUP_CORRUPT, a disk failure
 * STORAGE_UNAVAILABLE. Anything else is unexpected: undefined, and the caller masks it.
 */
export function toKilnError(err: unknown): KilnError | undefined {
  if (err instanceof KilnError) return err;
  if (err instanceof BackupLimitError) {
    // Before BackupFormatError: a limit is not a malformed file, and the operator can raise it.
    return new BackupCorruptError(`The backup was refused: ${err.message}. If the file is genuine, raise ${LIMIT_SETTINGS[err.limit]}`, {
      limit: LIMIT_SETTINGS[err.limit],
    });
  }
  if (err instanceof BackupFormatError) return new BackupCorruptError(`Not a valid Kiln backup: ${err.message}`);
  if (err instanceof DecryptionError) return new BackupCorruptError(err.message, { reason: err.reason });
  // `syscall` marks an error of the operating system (a library's own errors may carry a `code` too).
  const { code, syscall } = (err ?? {}) as NodeJS.ErrnoException;
  if (typeof code === 'string' && syscall && Object.hasOwn(STORAGE_ERRNO, code)) {
    return new StorageUnavailableError(`Storage failed: ${STORAGE_ERRNO[code]} (${code})`, { errno: code });
  }
  return undefined;
}
