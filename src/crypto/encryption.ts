/*
 * Kiln's encrypted file format, version 1: streaming AES-256-GCM in chunks.
 *
 *   offset  bytes  field
 *        0      8  magic "KILNENC1" (ASCII)
 *        8      1  format version: 1
 *        9      8  key id: the first 8 bytes of SHA-256(key), see backup-key.ts
 *       17     16  salt: random for every file
 *       33      4  chunk size C: plaintext bytes per chunk, uint32 big-endian (1 MiB by default)
 *       37      …  chunks, each: ciphertext (as long as its plaintext) || 16-byte GCM tag
 *
 * Every chunk but the last holds exactly C plaintext bytes; the last holds 1..C, or 0 only
 * when the whole plaintext is empty, so a file has at least one chunk and its total length
 * fixes where each chunk ends. Chunk i (counted from 0) is sealed as
 *
 *   fileKey = HKDF-SHA256(ikm = key, salt = salt, info = "kiln-backup-encryption v1", 32 bytes)
 *   nonce_i = i as an 11-byte big-endian counter || 0x01 if it is the last chunk, else 0x00
 *   chunk_i = AES-256-GCM(fileKey, nonce_i, aad = the 37 header bytes, plaintext_i)
 *
 * This is the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár (CRYPTO 2015),
 * as age and Tink's streaming AEAD instantiate it. Why each part is there:
 * - The per-file key from a random salt means counter nonces never repeat under one key,
 *   however many files share the configured key (no random-nonce birthday bound per file).
 * - The counter in the nonce makes a chunk that is moved, duplicated or dropped fail its tag.
 * - The last-chunk flag makes a file cut at a chunk boundary fail (its new last chunk was
 *   sealed as "not last"), and so does anything appended after the real last chunk.
 * - The header as AAD of every chunk makes an edit anywhere in it fail authentication.
 *   The key id is read before any key is chosen, but it is authenticated all the same.
 * A reader releases a chunk's plaintext only after its tag verifies, so what it has emitted
 * before an error is always an authentic prefix: consumers must still treat the error as the
 * failure of the whole file (restore in a transaction, write to a temporary name).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ByteQueue } from './byte-queue';
import { BACKUP_KEY_BYTES, BackupKeyError, keyId, keyIdBytes } from './backup-key';

export const ENCRYPTION_MAGIC = Buffer.from('KILNENC1', 'ascii');
export const ENCRYPTION_FORMAT_VERSION = 1;
/** Plaintext bytes per chunk: large enough that per-chunk costs vanish, small enough to hold. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** The largest chunk size a reader accepts, which bounds what a forged header can make it buffer. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
export const TAG_BYTES = 16;

const KEY_ID_BYTES = 8;
const SALT_BYTES = 16;
const VERSION_OFFSET = ENCRYPTION_MAGIC.length;
const KEY_ID_OFFSET = VERSION_OFFSET + 1;
const SALT_OFFSET = KEY_ID_OFFSET + KEY_ID_BYTES;
const CHUNK_SIZE_OFFSET = SALT_OFFSET + SALT_BYTES;
export const ENCRYPTION_HEADER_BYTES = CHUNK_SIZE_OFFSET + 4;

const HKDF_INFO = Buffer.from('kiln-backup-encryption v1', 'ascii');
const NONCE_BYTES = 12;
// The 11-byte counter is written as 6 bytes after 5 zero bytes: 2^48 chunks is ample.
const MAX_CHUNKS = 2 ** 48;

export type DecryptionFailure = 'NOT_ENCRYPTED' | 'UNKNOWN_KEY' | 'TAMPERED' | 'TRUNCATED';

/** An encrypted backup could not be read; nothing unauthenticated was emitted. */
export class DecryptionError extends Error {
  constructor(
    readonly reason: DecryptionFailure,
    message: string,
  ) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export interface EncryptOptions {
  /** Plaintext bytes per chunk, 1..MAX_CHUNK_BYTES; tests use small ones. */
  chunkBytes?: number;
}

/** True when the bytes start with the encrypted format's magic (pass at least 8 bytes). */
export function isEncrypted(firstBytes: Buffer): boolean {
  return firstBytes.length >= ENCRYPTION_MAGIC.length && firstBytes.subarray(0, ENCRYPTION_MAGIC.length).equals(ENCRYPTION_MAGIC);
}

/** The id of the key an encrypted file needs, read from its first bytes; undefined if not encrypted. */
export function encryptedKeyId(firstBytes: Buffer): string | undefined {
  if (!isEncrypted(firstBytes) || firstBytes.length < SALT_OFFSET) return undefined;
  return firstBytes.subarray(KEY_ID_OFFSET, SALT_OFFSET).toString('hex');
}

/** The size of the encrypted file for a plaintext of `plainBytes` bytes. */
export function encryptedLength(plainBytes: number, chunkBytes = DEFAULT_CHUNK_BYTES): number {
  const chunks = Math.max(1, Math.ceil(plainBytes / chunkBytes));
  return ENCRYPTION_HEADER_BYTES + plainBytes + chunks * TAG_BYTES;
}

/**
 * Plaintext in, encrypted file out (format above). Holds at most one chunk of plaintext
 * besides the write in progress: a full chunk waits until more input or the end shows
 * whether it is the last.
 */
export function encryptStream(key: Buffer, options: EncryptOptions = {}): Transform {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new RangeError(`chunkBytes must be an integer from 1 to ${MAX_CHUNK_BYTES}`);
  }
  checkKey(key, 'encryption key');
  const header = Buffer.alloc(ENCRYPTION_HEADER_BYTES);
  ENCRYPTION_MAGIC.copy(header);
  header[VERSION_OFFSET] = ENCRYPTION_FORMAT_VERSION;
  keyIdBytes(key).copy(header, KEY_ID_OFFSET);
  const salt = randomBytes(SALT_BYTES);
  salt.copy(header, SALT_OFFSET);
  header.writeUInt32BE(chunkBytes, CHUNK_SIZE_OFFSET);
  return new EncryptTransform(deriveFileKey(key, salt), header, chunkBytes);
}

/**
 * Encrypted file in, plaintext out. The key is chosen by the id in the header, so the current
 * key and older ones (BACKUP_DECRYPTION_KEYS) can be passed together. Fails with a
 * {@link DecryptionError}; a chunk's plaintext is emitted only once its tag has verified.
 */
export function decryptStream(keys: readonly Buffer[]): Transform {
  keys.forEach((key, i) => checkKey(key, `decryption key ${i + 1}`));
  return new DecryptTransform(keys);
}

class EncryptTransform extends Transform {
  private readonly pending = new ByteQueue();
  private headerSent = false;
  private index = 0;

  constructor(
    private readonly fileKey: Buffer,
    private readonly header: Buffer,
    private readonly chunkBytes: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.pending.push(chunk);
      // Strictly more than one chunk: only then is the first one known not to be the last.
      while (this.pending.length > this.chunkBytes) this.seal(this.pending.takeSlices(this.chunkBytes), false);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(this.pending.takeSlices(this.pending.length), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header);
  }

  private seal(plaintext: Buffer[], last: boolean): void {
    if (this.index >= MAX_CHUNKS) throw new RangeError('too many chunks for one encrypted file');
    const cipher = createCipheriv('aes-256-gcm', this.fileKey, chunkNonce(this.index, last), { authTagLength: TAG_BYTES });
    cipher.setAAD(this.header);
    for (const slice of plaintext) this.push(cipher.update(slice));
    cipher.final();
    this.push(cipher.getAuthTag());
    this.index++;
  }
}

/** What the header establishes for the rest of the file. */
interface OpenedFile {
  header: Buffer;
  fileKey: Buffer;
  chunkBytes: number;
}

class DecryptTransform extends Transform {
  private readonly pending = new ByteQueue();
  private file: OpenedFile | undefined;
  private index = 0;

  constructor(private readonly keys: readonly Buffer[]) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.pending.push(chunk);
      const file = this.file ?? this.readHeader();
      if (!file) return callback();
      // Strictly more than one chunk: only then is the first one known not to be the last.
      while (this.pending.length > file.chunkBytes + TAG_BYTES) {
        this.open(file, this.pending.takeSlices(file.chunkBytes), this.pending.take(TAG_BYTES), false);
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      const file = this.file ?? this.readHeader();
      if (!file) {
        throw new DecryptionError('TRUNCATED', `The encrypted backup is truncated: it ends inside its ${ENCRYPTION_HEADER_BYTES}-byte header`);
      }
      const rest = this.pending.length;
      if (rest < TAG_BYTES) {
        const where = rest > 0 ? `inside chunk ${this.index}` : this.index === 0 ? 'right after its header' : `after chunk ${this.index - 1}, without its final chunk`;
        throw new DecryptionError('TRUNCATED', `The encrypted backup is truncated: it ends ${where}`);
      }
      this.open(file, this.pending.takeSlices(rest - TAG_BYTES), this.pending.take(TAG_BYTES), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /** Parses the header once it is all here; undefined while more bytes are needed. */
  private readHeader(): OpenedFile | undefined {
    const start = this.pending.peek(ENCRYPTION_HEADER_BYTES);
    const magicSeen = Math.min(start.length, ENCRYPTION_MAGIC.length);
    // Judged on the first bytes, so a plain file fails at once rather than at its end.
    if (!start.subarray(0, magicSeen).equals(ENCRYPTION_MAGIC.subarray(0, magicSeen))) {
      throw new DecryptionError('NOT_ENCRYPTED', `The file is not an encrypted Kiln backup (it does not start with "${ENCRYPTION_MAGIC.toString('ascii')}")`);
    }
    if (start.length < ENCRYPTION_HEADER_BYTES) return undefined;
    const header = this.pending.take(ENCRYPTION_HEADER_BYTES);
    const version = header[VERSION_OFFSET];
    if (version !== ENCRYPTION_FORMAT_VERSION) {
      throw new DecryptionError('TAMPERED', `The encrypted backup says it uses format version ${version}, which this Kiln cannot read: the file is damaged or from a newer Kiln`);
    }
    const chunkBytes = header.readUInt32BE(CHUNK_SIZE_OFFSET);
    if (chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
      throw new DecryptionError('TAMPERED', `The encrypted backup's header is damaged: its chunk size ${chunkBytes} is out of range`);
    }
    const wanted = header.subarray(KEY_ID_OFFSET, SALT_OFFSET).toString('hex');
    const key = this.keys.find((candidate) => keyId(candidate) === wanted);
    if (!key) {
      const configured = this.keys.length === 0 ? 'no decryption key is configured' : `configured: ${[...new Set(this.keys.map(keyId))].join(', ')}`;
      throw new DecryptionError('UNKNOWN_KEY', `The backup is encrypted with key ${wanted}, which is not among the configured keys (${configured})`);
    }
    this.file = { header, fileKey: deriveFileKey(key, header.subarray(SALT_OFFSET, CHUNK_SIZE_OFFSET)), chunkBytes };
    return this.file;
  }

  /** Verifies one chunk, then emits its plaintext; throws rather than emit unauthenticated bytes. */
  private open(file: OpenedFile, ciphertext: Buffer[], tag: Buffer, last: boolean): void {
    const offset = ENCRYPTION_HEADER_BYTES + this.index * (file.chunkBytes + TAG_BYTES);
    const plaintext = this.tryOpen(file, ciphertext, tag, last);
    if (plaintext === undefined) {
      // Only a diagnosis: would the chunk verify with the other flag? Without the key no
      // forger can make that happen, so it tells a cut-short or extended file apart from noise.
      if (this.tryOpen(file, ciphertext, tag, !last) !== undefined) {
        throw last
          ? new DecryptionError('TRUNCATED', `The encrypted backup is truncated: it ends after chunk ${this.index}, without its final chunk`)
          : new DecryptionError('TAMPERED', `The encrypted backup has data after its final chunk (chunk ${this.index}): it has been tampered with`);
      }
      throw new DecryptionError(
        'TAMPERED',
        `The encrypted backup failed authentication at chunk ${this.index} (file offset ${offset}): it has been corrupted, cut short or tampered with`,
      );
    }
    // The writer never makes an empty last chunk after others; refuse one rather than trust it.
    if (last && ciphertext.length === 0 && this.index > 0) {
      throw new DecryptionError('TAMPERED', `The encrypted backup ends with an empty chunk ${this.index}: it has been tampered with`);
    }
    this.index++;
    for (const slice of plaintext) this.push(slice);
  }

  /** The chunk's plaintext slices if its tag verifies with this last-chunk flag. */
  private tryOpen(file: OpenedFile, ciphertext: Buffer[], tag: Buffer, last: boolean): Buffer[] | undefined {
    if (this.index >= MAX_CHUNKS) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', file.fileKey, chunkNonce(this.index, last), { authTagLength: TAG_BYTES });
    decipher.setAAD(file.header);
    decipher.setAuthTag(tag);
    const plaintext = ciphertext.map((slice) => decipher.update(slice));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return plaintext;
  }
}

function checkKey(key: Buffer, what: string): void {
  if (key.length !== BACKUP_KEY_BYTES) throw new BackupKeyError(`The ${what} must be ${BACKUP_KEY_BYTES} bytes, not ${key.length}`);
}

function deriveFileKey(key: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, HKDF_INFO, BACKUP_KEY_BYTES));
}

function chunkNonce(index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeUIntBE(index, 5, 6);
  nonce[NONCE_BYTES - 1] = last ? 1 : 0;
  return nonce;
}
