import { createHash } from 'node:crypto';

/** AES-256 keys: the only size Kiln accepts for backup encryption. */
export const BACKUP_KEY_BYTES = 32;

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// 32 bytes are 43 base64 characters plus one '=' of padding, which many tools leave off.
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_KEY = /^[A-Za-z0-9_-]{43}=?$/;

/** A configured key is malformed. Messages name the variable, never the key's text. */
export class BackupKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupKeyError';
  }
}

/**
 * Parses a 32-byte key written as 64 hex characters or as base64 (standard or URL-safe
 * alphabet, padding optional). Surrounding whitespace is ignored; anything else is refused,
 * including base64 with non-zero padding bits, so one key has exactly one spelling per encoding.
 */
export function parseKey(text: string, variable = 'BACKUP_ENCRYPTION_KEY'): Buffer {
  const trimmed = text.trim();
  const problem = `${variable} must be ${BACKUP_KEY_BYTES} bytes, as 64 hex characters or base64`;
  if (HEX_KEY.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (BASE64_KEY.test(trimmed) || BASE64URL_KEY.test(trimmed)) {
    const standard = trimmed.replace(/-/g, '+').replace(/_/g, '/').replace(/=$/, '');
    const key = Buffer.from(standard, 'base64');
    // Buffer.from drops stray bits silently; a round trip catches a mistyped last character.
    if (key.length === BACKUP_KEY_BYTES && key.toString('base64').replace(/=$/, '') === standard) return key;
    throw new BackupKeyError(`${problem} (its last base64 character is not valid for a ${BACKUP_KEY_BYTES}-byte key)`);
  }
  if (trimmed === '') throw new BackupKeyError(`${problem} (it is empty)`);
  throw new BackupKeyError(`${problem} (got ${trimmed.length} characters that are neither)`);
}

/**
 * Parses a list of keys separated by commas and/or whitespace, as in BACKUP_DECRYPTION_KEYS.
 * An empty list is allowed; a bad entry is named by its 1-based position.
 */
export function parseKeyList(text: string, variable = 'BACKUP_DECRYPTION_KEYS'): Buffer[] {
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== '');
  return entries.map((entry, i) => parseKey(entry, entries.length === 1 ? variable : `${variable} entry ${i + 1}`));
}

/**
 * Names a key without revealing it: the first 8 bytes of SHA-256(key), as 16 hex characters.
 * Encrypted files carry it so a reader can pick the right key and say which one is missing.
 */
export function keyId(key: Buffer): string {
  return keyIdBytes(key).toString('hex');
}

/** The 8 bytes behind {@link keyId}, as stored in an encrypted file's header. */
export function keyIdBytes(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, 8);
}
