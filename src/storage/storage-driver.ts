import type { Readable } from 'node:stream';

export interface StoredObject {
  /** The object's key in the driver, for get/stat/delete/signedUrl (a driver may prefix the key it was given). */
  key: string;
  bytes: number;
  /** Where the object is, as the lending app's records name it: a file's absolute path, a delivery URL. */
  address: string;
  /** The driver's version of the object, when it keeps one (Cloudinary's `version`). */
  version?: number;
}

/** The bytes to store: a stream, or a way to open them again (a driver that retries needs one). */
export type PutSource = Readable | (() => Promise<Readable>);

export interface PutOptions {
  /** Names the temporary object, so crash clean-up can tell a running job's from a dead one's. */
  tempTag: string;
  signal?: AbortSignal;
  /** Bytes the source holds, when known: a driver checks the stored object against it. */
  expectedBytes?: number;
  /** Called with the bytes sent so far. */
  onProgress?: (bytesSent: number) => void;
}

/** Inclusive byte range, as HTTP's Range counts. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where backup files live. Drivers take and give streams; nothing is held in
 * memory. A put is all-or-nothing: readers never see a partial object.
 * Failures to reach the storage are STORAGE_UNAVAILABLE.
 */
export interface StorageDriver {
  /** The backup location it serves (LOCAL, CLOUD): what logs and messages call it. */
  readonly name: string;
  /** Fails with STORAGE_UNAVAILABLE unless a put could start now. */
  assertWritable(): Promise<void>;
  /** Streams the source to a temporary object and commits it as `key` once the stream ended cleanly; aborts with `signal`. */
  put(key: string, source: PutSource, options: PutOptions): Promise<StoredObject>;
  /** The object's bytes, optionally a byte range. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Size (and time of the last change when the driver knows it), or null when missing. */
  stat(key: string): Promise<{ bytes: number; modifiedAt?: Date } | null>;
  /** Removes the object; one already gone counts as removed. */
  delete(key: string): Promise<void>;
  /**
   * A link that downloads the object without other credentials for `ttlSeconds`;
   * null when the storage has none (local files: the gateway streams them itself).
   */
  signedUrl(key: string, ttlSeconds: number): string | null;
  /** Removes temporary objects left by puts whose tag is not among `keepTags` (crash clean-up); returns what it removed. */
  removeIncomplete(keepTags: () => Promise<ReadonlySet<string>>): Promise<string[]>;
  /** Releases connections (on shutdown). */
  close(): void;
}
