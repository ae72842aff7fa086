import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DataSource } from 'typeorm';
import type { StorageDriver } from '../storage/storage-driver';
import type { BackupSigner } from './format/backup-signature';
import { BackupWriter, type BackupHeader, type BackupSummary } from './format/backup-writer';
import { encryptStream } from '../crypto/encryption';
import { compressAboveThreshold } from './format/compression';
import { exportSnapshot, type ExportOptions } from './snapshot/snapshot-exporter';

export interface BackupFileOptions {
  dataSource: DataSource;
  header: BackupHeader;
  storage: StorageDriver;
  /** The storage key, once it is known whether the file is gzip. */
  keyFor(compressed: boolean): string;
  tempTag: string;
  /** Encrypt (after compressing) with this key when set. */
  encryptionKey?: Buffer;
  signer: BackupSigner;
  /** How the tables are read (sessions at once). */
  reading?: ExportOptions;
  signal: AbortSignal;
  onProgress(change: { table?: string | null; rowsDone?: number; bytesDone: number; phase?: string }): void;
}

export interface WrittenBackupFile {
  key: string;
  /** Where the storage says the file is (its absolute path on a local disk). */
  address: string;
  bytes: number;
  compressed: boolean;
  summary: BackupSummary;
  /** sha256 of the stored bytes: what `sha256sum` of the file prints. */
  fileChecksum: string;
  /** The most plain bytes per gzip byte a reader meets in the file (0 when plain): see readLimitsExceeded. */
  peakExpansion: number;
  /** The snapshot the rows were read in (see ExportedSnapshot). */
  snapshot: string | null;
  snapshotAt: Date | null;
}

/**
 * snapshot → kiln-backup document → gzip above 1 MB → storage, all streaming.
 * The three branches run at once; the first failure stops the others and is
 * the error reported (a disk-full, not the aborts it causes downstream).
 */
export async function writeBackupFile(options: BackupFileOptions): Promise<WrittenBackupFile> {
  const writer = new BackupWriter(options.header, options.signer);
  const compression = compressAboveThreshold();
  let bytes = 0;
  const fileHash = createHash('sha256');
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      fileHash.update(chunk);
      done(null, chunk);
    },
  });

  const failed = new AbortController();
  const fail = (err: unknown) => {
    if (failed.signal.aborted) return;
    failed.abort(err);
    writer.abort(err instanceof Error ? err : new Error(String(err)));
  };
  const onAbort = () => fail(options.signal.reason);
  options.signal.addEventListener('abort', onAbort, { once: true });
  // Every branch is watched from its start, so no failure goes unhandled while we await another.
  const watch = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(fail);
    return promise;
  };

  try {
    const stages: NodeJS.ReadWriteStream[] = [compression.stream, ...(options.encryptionKey ? [encryptStream(options.encryptionKey)] : []), counter];
    const compressing = watch(pipeline(writer.output, ...(stages as [Transform, ...Transform[]]), { signal: failed.signal }));
    const exporting = watch(
      exportSnapshot(
        options.dataSource,
        options.header.tables,
        writer,
        ({ table, rowsDone }) => options.onProgress({ table, rowsDone, bytesDone: bytes }),
        failed.signal,
        options.reading,
      ).then(async ({ snapshot, snapshotAt }) => {
        // Reading is done; what is left is compressing and storing the tail.
        options.onProgress({ phase: 'store', table: null, bytesDone: bytes });
        return { summary: await writer.finish(), snapshot, snapshotAt };
      }),
    );
    const compressed = await watch(Promise.race([compression.compressed, exporting.then(() => compression.compressed)]));
    const key = options.keyFor(compressed);
    const storing = watch(options.storage.put(key, counter as Readable, { tempTag: options.tempTag, signal: failed.signal }));
    const [{ summary, snapshot, snapshotAt }, , stored] = await Promise.all([exporting, compressing, storing]);
    return {
      key,
      address: stored.address,
      bytes: stored.bytes,
      compressed,
      summary,
      fileChecksum: fileHash.digest('hex'),
      peakExpansion: compression.peakExpansion(),
      snapshot,
      snapshotAt,
    };
  } catch (err) {
    fail(err);
    throw failed.signal.reason ?? err;
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
}
