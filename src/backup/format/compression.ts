import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, type Gunzip, type Gzip } from 'node:zlib';

/** Backups smaller than this stay plain text, so they open directly in an editor or jq. */
export const GZIP_THRESHOLD_BYTES = 1024 * 1024;

// Measured on 32 MB of lending rows (Node 20): level 3 compresses at ~370 MB/s to 10.5 %,
// level 6 at ~190 MB/s to 9.8 %. Twice the speed is worth 7 % more bytes for a backup.
const GZIP_LEVEL = 3;

// zlib's default 16 KiB output chunk costs a main-thread callback per 16 KiB: gunzip of 250 MB of
// rows took 1.6 s of CPU with it and 0.3 s with 256 KiB (Node 20); gzip gains a little with 64 KiB.
const GUNZIP_CHUNK_BYTES = 256 * 1024;
const GZIP_CHUNK_BYTES = 64 * 1024;

/**
 * Holds back up to `threshold` bytes; if the input ends sooner they pass through plain,
 * otherwise everything (held bytes first) goes through gzip from then on.
 */
class ThresholdGzip extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private gzip: Gzip | undefined;
  private plainBytes = 0;
  private compressedBytes = 0;
  /** The most plain bytes per compressed byte so far, judged as a reader judges it (see decompressIfGzip). */
  peakExpansion = 0;

  constructor(
    private readonly threshold: number,
    private readonly decide: (compressed: boolean) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.plainBytes += chunk.length;
    // gzip.write's callback comes once gzip took the chunk, and gzip waits for our reader:
    // that chains the consumer's backpressure back to whoever writes into this stream.
    if (this.gzip) {
      this.gzip.write(chunk, callback);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes < this.threshold) {
      callback();
      return;
    }
    const gzip = this.startGzip();
    const held = this.held;
    this.held = [];
    held.forEach((buffer, i) => (i === held.length - 1 ? gzip.write(buffer, callback) : gzip.write(buffer)));
  }

  override _flush(callback: TransformCallback): void {
    if (!this.gzip) {
      for (const buffer of this.held) this.push(buffer);
      this.held = [];
      this.decide(false);
      callback();
      return;
    }
    this.gzip.once('end', () => callback());
    this.gzip.end();
  }

  override _read(size: number): void {
    this.gzip?.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.gzip?.destroy();
    callback(error);
  }

  private startGzip(): Gzip {
    const gzip = createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_CHUNK_BYTES });
    gzip.on('data', (data: Buffer) => {
      this.compressedBytes += data.length;
      // Counted against what went in, some of it still inside gzip: a little above what a reader sees.
      this.peakExpansion = Math.max(this.peakExpansion, judgedExpansion(this.plainBytes, this.compressedBytes));
      if (!this.push(data)) gzip.pause();
    });
    gzip.on('error', (err) => this.destroy(err));
    this.gzip = gzip;
    this.decide(true);
    return gzip;
  }
}

/**
 * Plain below the threshold, gzip from it on: buffers at most about `threshold` bytes, then
 * streams. `compressed` settles once the choice is made (at the latest when input ends);
 * it rejects only if the stream fails first.
 */
export function compressAboveThreshold(threshold: number = GZIP_THRESHOLD_BYTES): {
  stream: Transform;
  compressed: Promise<boolean>;
  /** The largest expansion a reader would meet in what was compressed so far (0 while plain). */
  peakExpansion(): number;
} {
  let decide!: (compressed: boolean) => void;
  let fail!: (err: Error) => void;
  const compressed = new Promise<boolean>((resolve, reject) => {
    decide = resolve;
    fail = reject;
  });
  // Callers that only pipe the stream never look at the promise: a failure must not
  // become an unhandled rejection as well as the stream error they already handle.
  compressed.catch(() => undefined);
  const stream = new ThresholdGzip(threshold, decide);
  stream.once('error', fail);
  stream.once('close', () => fail(new Error('compression stream closed before its input ended')));
  return { stream, compressed, peakExpansion: () => stream.peakExpansion };
}

/**
 * Expansion is judged only once this many plain bytes came out: the ratio of a small file says
 * little (a near-empty backup of short lines can compress well past real data), and whatever a
 * bomb makes before it is refused stays this small.
 */
export const EXPANSION_GRACE_BYTES = 4 * 1024 * 1024;

/** Plain bytes per compressed byte as MAX_GZIP_EXPANSION judges them: 0 until {@link EXPANSION_GRACE_BYTES} came out. */
function judgedExpansion(plainBytes: number, compressedBytes: number): number {
  return plainBytes > EXPANSION_GRACE_BYTES ? plainBytes / compressedBytes : 0;
}

/** A gzip input expanded more than its limit allows: made to fill memory and time, not a backup. */
export class GzipExpansionError extends Error {
  constructor(
    readonly plainBytes: number,
    readonly compressedBytes: number,
    readonly maxExpansion: number,
  ) {
    super(
      `the gzip data expands more than ${maxExpansion}-fold (${plainBytes} bytes from ${compressedBytes}; ` +
        'backups compress about 10-fold): refused as a decompression bomb',
    );
    this.name = 'GzipExpansionError';
  }
}

export interface DecompressOptions {
  /**
   * Most plain bytes a gzip input may give per compressed byte (counted over everything read so
   * far, once {@link EXPANSION_GRACE_BYTES} came out); beyond it the stream fails with a
   * {@link GzipExpansionError}. Default: no limit.
   */
  maxExpansion?: number;
}

/**
 * Detects gzip by its magic bytes (1f 8b), not by file name, and returns a stream of the
 * plain bytes. Truncated or corrupt gzip makes the returned stream fail; it never just ends.
 */
export function decompressIfGzip(input: Readable, options: DecompressOptions = {}): Readable {
  const maxExpansion = options.maxExpansion ?? Infinity;
  let gunzip: Gunzip | undefined;
  let plainBytes = 0;
  const output = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (gunzip) {
        plainBytes += chunk.length;
        // bytesWritten: the compressed bytes zlib has consumed, the ones that gave these plain bytes.
        // Nothing consumed yet gives Infinity: refused, as any output from no input must be.
        if (judgedExpansion(plainBytes, gunzip.bytesWritten) > maxExpansion) {
          done(new GzipExpansionError(plainBytes, gunzip.bytesWritten, maxExpansion));
          return;
        }
      }
      done(null, chunk);
    },
  });
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

  async function* prefixed(head: Buffer): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    } finally {
      // Stopping early (the consumer gave up) must release the input too.
      await chunks.return?.();
    }
  }

  void (async () => {
    let head = Buffer.alloc(0);
    while (head.length < 2) {
      const next = await chunks.next();
      if (next.done) break;
      head = Buffer.concat([head, next.value]);
    }
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
      await pipeline(prefixed(head), gunzip, output);
    } else {
      await pipeline(prefixed(head), output);
    }
  })().catch((err: unknown) => output.destroy(err instanceof Error ? err : new Error(String(err))));

  return output;
}
