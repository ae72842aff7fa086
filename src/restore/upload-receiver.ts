import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import { BadUserInputError, StorageUnavailableError } from '../errors/kiln-errors';

/**
 * An uploaded backup, stored once: in graphql-upload's own temporary file (fs-capacitor, in the
 * OS temp folder). That file outlives the request while a read stream of it is open, so the
 * streams a restore will read are opened before the request ends and handed out by open().
 */
export interface ReceivedUpload {
  filename: string;
  bytes: number;
  /** The file from its first byte; each call takes one of the streams opened when it arrived. */
  open(): Readable;
  /** Closes the streams not taken: the temporary file goes once every stream is closed. */
  discard(): void;
}

/** Where graphql-upload stores uploads while they are read (fs-capacitor uses the OS temp folder). */
export function uploadTempDir(): string {
  return tmpdir();
}

/** Bytes free for an unprivileged writer on the file system that holds `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

export interface UploadLimits {
  maxBytes: number;
  /** Disk that must stay free while the file arrives. */
  minFreeBytes: number;
}

// How often (in bytes received) the free disk is looked at again.
const FREE_CHECK_BYTES = 64 * 1024 * 1024;

/** STORAGE_UNAVAILABLE when storing `bytes` more would leave less than `minFreeBytes` free. */
export async function assertRoomFor(bytes: number, minFreeBytes: number): Promise<void> {
  const free = await freeBytes(uploadTempDir());
  if (free - bytes >= minFreeBytes) return;
  throw new StorageUnavailableError(
    `Not enough free disk for the upload: ${bytes} bytes would leave ${Math.max(0, free - bytes)} of the ${minFreeBytes} that must stay free (UPLOAD_MIN_FREE_BYTES)`,
    { freeBytes: free, neededBytes: bytes + minFreeBytes },
  );
}

/**
 * Waits for the whole upload (so a cut-off or oversized one is refused before any job starts)
 * and keeps `passes` streams of it for the reads to come. Bounded by maxBytes and by free disk.
 */
export async function receiveUpload(upload: Promise<FileUpload>, limits: UploadLimits, passes: number): Promise<ReceivedUpload> {
  const { maxBytes } = limits;
  let file: FileUpload;
  try {
    file = await upload;
  } catch (err) {
    throw new BadUserInputError(`The upload failed: ${(err as Error).message}`);
  }
  const kept: Readable[] = [];
  // Every stream opened, handed out or not: one handed out but never read must not keep the file.
  const opened: Readable[] = [];
  const discard = () => {
    kept.length = 0;
    opened.splice(0).forEach((stream) => stream.destroy());
  };
  let bytes = 0;
  let freeCheckAt = 0;
  try {
    // Opened now, while the request holds the file; read later. (An upload already refused,
    // e.g. over the size limit, throws here.) A cut-off upload fails them too, before anyone
    // reads them: the counting pass below reports it.
    for (let i = 0; i < passes; i++) kept.push(file.createReadStream().on('error', () => undefined));
    opened.push(...kept);
    const counting = file.createReadStream();
    opened.push(counting);
    // A failed write (a full disk) only emits on the stored file; its readers would wait for more.
    (file as { capacitor?: NodeJS.EventEmitter }).capacitor?.once('error', (err: Error) => counting.destroy(err));
    for await (const chunk of counting) {
      bytes += (chunk as Buffer).length;
      if (bytes > maxBytes) throw new BadUserInputError(`The file is larger than MAX_UPLOAD_BYTES (${maxBytes} bytes)`);
      // An upload without a declared size is checked as it grows (what is read is already stored).
      if (bytes > freeCheckAt) {
        await assertRoomFor(0, limits.minFreeBytes);
        freeCheckAt += FREE_CHECK_BYTES;
      }
    }
  } catch (err) {
    discard();
    if (err instanceof BadUserInputError || err instanceof StorageUnavailableError) throw err;
    const message = (err as Error).message;
    if (/truncated|exceeds/i.test(message)) throw new BadUserInputError(`The file is larger than MAX_UPLOAD_BYTES (${maxBytes} bytes)`);
    if (/ENOSPC/.test(message)) throw new StorageUnavailableError('There is no room left on the disk for the upload', { dir: uploadTempDir() });
    throw new BadUserInputError(`The upload was cut off before the whole file arrived: ${message}`);
  }
  return {
    filename: path.basename(file.filename || 'upload'),
    bytes,
    open: () => {
      const stream = kept.shift();
      if (!stream) throw new Error(`receiveUpload: the upload was opened more than the ${passes} times planned`);
      return stream;
    },
    discard,
  };
}
