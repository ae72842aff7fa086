import { randomBytes } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { BackupKeyError, keyId } from './backup-key';
import {
  DEFAULT_CHUNK_BYTES,
  DecryptionError,
  ENCRYPTION_HEADER_BYTES,
  TAG_BYTES,
  decryptStream,
  encryptStream,
  encryptedKeyId,
  encryptedLength,
  isEncrypted,
  type DecryptionFailure,
  type EncryptOptions,
} from './encryption';

const KEY = randomBytes(32);
const OLD_KEY = randomBytes(32);
const MiB = 1024 * 1024;

/** Yields `bytes` in pieces of `size`, so chunks and the header straddle writes. */
function pieces(bytes: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );
}

async function collect(source: Readable, transform: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(source, transform, async (stream: AsyncIterable<Buffer>) => {
    for await (const chunk of stream) out.push(chunk);
  });
  return Buffer.concat(out);
}

function encrypt(plain: Buffer, options: EncryptOptions & { key?: Buffer; writeBytes?: number } = {}): Promise<Buffer> {
  return collect(pieces(plain, options.writeBytes ?? 64 * 1024), encryptStream(options.key ?? KEY, options));
}

function decrypt(file: Buffer, keys: Buffer[] = [KEY], readBytes = 64 * 1024): Promise<Buffer> {
  return collect(pieces(file, readBytes), decryptStream(keys));
}

/** Decrypts expecting a failure; returns it with whatever plaintext was emitted before it. */
async function decryptFailure(file: Buffer, keys: Buffer[] = [KEY]): Promise<{ error: DecryptionError; emitted: Buffer }> {
  const emitted: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      emitted.push(chunk);
      callback();
    },
  });
  const error = await pipeline(pieces(file, 4093), decryptStream(keys), sink).then(
    () => {
      throw new Error(`decryption succeeded (${Buffer.concat(emitted).length} bytes) where it should have failed`);
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(DecryptionError);
  return { error: error as DecryptionError, emitted: Buffer.concat(emitted) };
}

async function expectFailure(file: Buffer, reasons: DecryptionFailure[], keys?: Buffer[]): Promise<DecryptionError> {
  const { error } = await decryptFailure(file, keys);
  expect(reasons).toContain(error.reason);
  return error;
}

describe('encryption round trip', () => {
  it.each([
    ['0 bytes', 0],
    ['1 byte', 1],
    ['one chunk less a byte', DEFAULT_CHUNK_BYTES - 1],
    ['exactly one chunk', DEFAULT_CHUNK_BYTES],
    ['one chunk and a byte', DEFAULT_CHUNK_BYTES + 1],
    ['exactly three chunks', 3 * DEFAULT_CHUNK_BYTES],
    ['~5 MB', 5_000_000 + 17],
  ])('%s, in small and large writes', async (_name, size) => {
    const plain = randomBytes(size);
    for (const [writeBytes, readBytes] of [
      [1000, 7],
      [size || 1, size + 1000],
      [3 * MiB + 1, 65_537],
    ] as const) {
      const file = await encrypt(plain, { writeBytes });
      expect(file.length).toBe(encryptedLength(size));
      expect((await decrypt(file, [KEY], readBytes)).equals(plain)).toBe(true);
    }
  });

  it('round-trips with small chunk sizes, down to one byte', async () => {
    const plain = randomBytes(3000);
    for (const chunkBytes of [1, 16, 1000, 2999, 3000, 3001]) {
      const file = await encrypt(plain, { chunkBytes, writeBytes: 333 });
      expect(file.length).toBe(encryptedLength(plain.length, chunkBytes));
      expect((await decrypt(file, [KEY], 101)).equals(plain)).toBe(true);
    }
  });

  it('writes a header naming the key, and never the same bytes twice', async () => {
    const plain = Buffer.from('the same backup');
    const [a, b] = await Promise.all([encrypt(plain), encrypt(plain)]);
    expect(isEncrypted(a)).toBe(true);
    expect(a.subarray(0, 9).toString('latin1')).toBe('KILNENC1\x01');
    expect(encryptedKeyId(a)).toBe(keyId(KEY));
    expect(a.equals(b)).toBe(false);
    expect(a.includes(plain)).toBe(false);
  });

  it('tells encrypted files from plain and gzip ones', () => {
    expect(isEncrypted(Buffer.from('{"format":"kiln-backup"}\n'))).toBe(false);
    expect(isEncrypted(gzipSync('x'))).toBe(false);
    expect(isEncrypted(Buffer.from('KILNENC'))).toBe(false);
    expect(isEncrypted(Buffer.alloc(0))).toBe(false);
    expect(encryptedKeyId(Buffer.from('plain'))).toBeUndefined();
  });
});

describe('decryption keys', () => {
  it('refuses a file made with another key, naming its id and the configured ones', async () => {
    const file = await encrypt(Buffer.from('secret'), { key: OLD_KEY });
    const error = await expectFailure(file, ['UNKNOWN_KEY'], [KEY]);
    expect(error.message).toBe(
      `The backup is encrypted with key ${keyId(OLD_KEY)}, which is not among the configured keys (configured: ${keyId(KEY)})`,
    );
    expect((await decryptFailure(file, [])).error.message).toContain('no decryption key is configured');
  });

  it('reads files made with an old key when it is listed after the current one (rotation)', async () => {
    const plain = randomBytes(DEFAULT_CHUNK_BYTES + 5);
    const oldFile = await encrypt(plain, { key: OLD_KEY });
    const newFile = await encrypt(plain, { key: KEY });
    expect((await decrypt(oldFile, [KEY, OLD_KEY])).equals(plain)).toBe(true);
    expect((await decrypt(newFile, [KEY, OLD_KEY])).equals(plain)).toBe(true);
    expect((await decrypt(oldFile, [OLD_KEY, KEY])).equals(plain)).toBe(true);
  });

  it('refuses keys of the wrong length up front', () => {
    expect(() => encryptStream(randomBytes(16))).toThrow(BackupKeyError);
    expect(() => decryptStream([KEY, randomBytes(31)])).toThrow('The decryption key 2 must be 32 bytes, not 31');
    expect(() => encryptStream(KEY, { chunkBytes: 0 })).toThrow(RangeError);
  });
});

describe('tamper detection', () => {
  const CHUNK = 1024;
  const SEGMENT = CHUNK + TAG_BYTES;
  const plain = randomBytes(4 * CHUNK + 904); // four full chunks and a partial fifth
  let file: Buffer;

  const segmentStart = (i: number) => ENCRYPTION_HEADER_BYTES + i * SEGMENT;
  const segment = (f: Buffer, i: number) => f.subarray(segmentStart(i), Math.min(segmentStart(i + 1), f.length));
  const flip = (f: Buffer, at: number) => {
    const copy = Buffer.from(f);
    copy[at] ^= 0x01;
    return copy;
  };

  beforeAll(async () => {
    file = await encrypt(plain, { chunkBytes: CHUNK, writeBytes: 500 });
    expect(file.length).toBe(segmentStart(4) + 904 + TAG_BYTES);
  });

  it('notices a changed bit anywhere in the header', async () => {
    for (let at = 0; at < ENCRYPTION_HEADER_BYTES; at++) {
      const { error, emitted } = await decryptFailure(flip(file, at));
      // magic | version | key id | salt | chunk size
      const expected: DecryptionFailure = at < 8 ? 'NOT_ENCRYPTED' : at >= 9 && at < 17 ? 'UNKNOWN_KEY' : 'TAMPERED';
      expect({ at, reason: error.reason }).toEqual({ at, reason: expected });
      expect(emitted.length).toBe(0);
    }
  });

  it('notices a header carried over from another file made with the same key', async () => {
    const other = await encrypt(plain, { chunkBytes: CHUNK });
    const spliced = Buffer.concat([other.subarray(0, ENCRYPTION_HEADER_BYTES), file.subarray(ENCRYPTION_HEADER_BYTES)]);
    await expectFailure(spliced, ['TAMPERED']);
  });

  it('emits only the chunks before a changed byte in a middle chunk, never the changed one', async () => {
    for (const at of [segmentStart(2), segmentStart(2) + 500, segmentStart(3) - TAG_BYTES - 1]) {
      const { error, emitted } = await decryptFailure(flip(file, at));
      expect(error.reason).toBe('TAMPERED');
      expect(error.message).toContain(`at chunk 2 (file offset ${segmentStart(2)})`);
      expect(emitted.equals(plain.subarray(0, 2 * CHUNK))).toBe(true);
    }
  });

  it('notices a changed tag, including the last chunk', async () => {
    await expectFailure(flip(file, segmentStart(2) - 1), ['TAMPERED']);
    await expectFailure(flip(file, segmentStart(3) - TAG_BYTES), ['TAMPERED']);
    const { error, emitted } = await decryptFailure(flip(file, file.length - 1));
    expect(error.reason).toBe('TAMPERED');
    expect(emitted.length).toBe(4 * CHUNK);
  });

  it('says TRUNCATED when the file is cut at any chunk boundary or inside the header', async () => {
    for (const at of [0, 5, ENCRYPTION_HEADER_BYTES - 1, ENCRYPTION_HEADER_BYTES, segmentStart(1), segmentStart(3), segmentStart(4)]) {
      const { error, emitted } = await decryptFailure(file.subarray(0, at));
      expect({ at, reason: error.reason }).toEqual({ at, reason: 'TRUNCATED' });
      expect(plain.subarray(0, emitted.length).equals(emitted)).toBe(true);
      expect(emitted.length).toBeLessThan(plain.length);
    }
  });

  it('fails, never short, when the file is cut inside a chunk', async () => {
    for (const at of [segmentStart(0) + 1, segmentStart(1) + 15, segmentStart(1) + 16, segmentStart(2) + 700, segmentStart(4) - 1, file.length - 1, file.length - TAG_BYTES]) {
      const { error, emitted } = await decryptFailure(file.subarray(0, at));
      expect(['TRUNCATED', 'TAMPERED']).toContain(error.reason);
      expect(plain.subarray(0, emitted.length).equals(emitted)).toBe(true);
    }
  });

  it('notices reordered, duplicated and dropped chunks', async () => {
    const [s0, s1, s2, s3, s4] = [0, 1, 2, 3, 4].map((i) => segment(file, i));
    const head = file.subarray(0, ENCRYPTION_HEADER_BYTES);
    const reordered = Buffer.concat([head, s0, s2, s1, s3, s4]);
    expect(reordered.length).toBe(file.length);
    await expectFailure(reordered, ['TAMPERED']);
    await expectFailure(Buffer.concat([head, s0, s1, s1, s2, s3, s4]), ['TAMPERED']);
    await expectFailure(Buffer.concat([head, s0, s1, s2, s3, s4, s4]), ['TAMPERED']);
    await expectFailure(Buffer.concat([head, s0, s1, s3, s4]), ['TAMPERED']);
    await expectFailure(Buffer.concat([head, s0, s1, s2, s3]), ['TRUNCATED']);
  });

  it('notices a chunk taken from another file made with the same key', async () => {
    const other = await encrypt(plain, { chunkBytes: CHUNK });
    const spliced = Buffer.concat([file.subarray(0, segmentStart(2)), segment(other, 2), file.subarray(segmentStart(3))]);
    await expectFailure(spliced, ['TAMPERED']);
  });

  it('notices anything appended after the last chunk', async () => {
    const full = await encrypt(randomBytes(3 * CHUNK), { chunkBytes: CHUNK }); // the last chunk is a full one
    for (const f of [file, full]) {
      for (const extra of [Buffer.from([0]), randomBytes(TAG_BYTES), randomBytes(CHUNK + 1), randomBytes(3 * SEGMENT)]) {
        await expectFailure(Buffer.concat([f, extra]), ['TAMPERED']);
      }
    }
    const error = await expectFailure(Buffer.concat([full, randomBytes(SEGMENT)]), ['TAMPERED']);
    expect(error.message).toContain('data after its final chunk');
  });

  it('with the default chunk size: a swap, a cut at a boundary and a flipped bit all fail', async () => {
    const big = randomBytes(4 * DEFAULT_CHUNK_BYTES + 123);
    const f = await encrypt(big);
    const seg = DEFAULT_CHUNK_BYTES + TAG_BYTES;
    const at = (i: number) => ENCRYPTION_HEADER_BYTES + i * seg;
    const swapped = Buffer.concat([f.subarray(0, at(1)), f.subarray(at(2), at(3)), f.subarray(at(1), at(2)), f.subarray(at(3))]);
    await expectFailure(swapped, ['TAMPERED']);
    await expectFailure(f.subarray(0, at(3)), ['TRUNCATED']);
    await expectFailure(flip(f, at(2) + 12345), ['TAMPERED']);
  });

  it('says NOT_ENCRYPTED for plain and gzip files, at their first bytes', async () => {
    for (const f of [Buffer.from('{"format":"kiln-backup","version":1}\n'), Buffer.from('X'), gzipSync(randomBytes(1000)), plain]) {
      const error = await expectFailure(f, ['NOT_ENCRYPTED']);
      expect(error.message).toBe('The file is not an encrypted Kiln backup (it does not start with "KILNENC1")');
    }
    await expectFailure(Buffer.alloc(0), ['TRUNCATED']);
  });
});

describe('memory', () => {
  /** A collector, so samples count the buffers still held rather than garbage not yet freed. */
  function exposeGc(): () => void {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  }

  it('encrypts and decrypts 96 MB from a generator holding a few chunks at most', async () => {
    const gc = exposeGc();
    // Six times the RSS bound below: holding the input, or the consumed pieces, would cross both bounds.
    const total = 96 * MiB;
    const piece = 64 * 1024;
    gc();
    const before = process.memoryUsage();
    let heldArrayBuffers = 0;
    let peakRss = before.rss;
    let received = 0;
    let sampled = 0;
    async function* source() {
      for (let sent = 0; sent < total; sent += piece) yield Buffer.alloc(piece, sent / piece);
    }
    await pipeline(Readable.from(source()), encryptStream(KEY), decryptStream([KEY]), async (stream: AsyncIterable<Buffer>) => {
      for await (const chunk of stream) {
        // Spot-checks the plaintext: every 64 KiB piece was filled with its index.
        if (chunk[0] !== ((received / piece) & 0xff)) throw new Error(`wrong plaintext at ${received}`);
        received += chunk.length;
        // Every 12 MB: each sample takes two full collections, whose cost grows with the heap a
        // test worker has accumulated (seconds apiece late in a run).
        if (received - sampled >= 12 * MiB) {
          sampled = received;
          // The pause lets every stage upstream fill its buffers (the worst case to measure);
          // array buffers are freed by a background sweeper, hence a second collection and pause.
          for (let round = 0; round < 2; round++) {
            gc();
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          const now = process.memoryUsage();
          heldArrayBuffers = Math.max(heldArrayBuffers, now.arrayBuffers - before.arrayBuffers);
          peakRss = Math.max(peakRss, now.rss);
        }
      }
    });
    expect(received).toBe(total);
    // With the consumer paused, every stage holds a chunk or so: about 5 MB in all, whatever
    // the total. Holding the input would show as the whole 96 MB; keeping consumed 64 KiB
    // pieces referenced until a later compaction showed as over 64 MB.
    expect(heldArrayBuffers / MiB).toBeLessThan(16);
    expect((peakRss - before.rss) / MiB).toBeLessThan(64);
  });
});
