import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
}

/**
 * Where backup files live. Drivers take and give streams; nothing is held in
 * memory. A put is all-or-nothing: readers never see a partial object.
 */
export interface StorageDriver {
  readonly name: string;
  /** Streams `source` to a temporary object and commits it as `key` once the stream ended cleanly. */
  put(key: string, source: Readable, options: { tempTag: string; signal?: AbortSignal }): Promise<StoredObject>;
  /** The object's bytes, optionally a byte range (inclusive end). */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Size, or null when missing. */
  stat(key: string): Promise<{ bytes: number } | null>;
  /** Removes the object; one already gone counts as removed. */
  delete(key: string): Promise<void>;
  /** Removes temporary objects left by puts whose tag is not among `keepTags` (crash clean-up). */
  removeIncomplete(keepTags: () => Promise<ReadonlySet<string>>): Promise<string[]>;
}
