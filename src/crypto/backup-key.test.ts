import { createHash, randomBytes } from 'node:crypto';
import { BackupKeyError, keyId, parseKey, parseKeyList } from './backup-key';

const KEY = randomBytes(32);
const MESSAGE = 'BACKUP_ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64';

describe('parseKey', () => {
  it.each([
    ['hex', KEY.toString('hex')],
    ['upper-case hex', KEY.toString('hex').toUpperCase()],
    ['base64', KEY.toString('base64')],
    ['base64 without padding', KEY.toString('base64').replace(/=$/, '')],
    ['base64url', KEY.toString('base64url')],
    ['base64url with padding', `${KEY.toString('base64url')}=`],
    ['a value with surrounding whitespace', `  ${KEY.toString('hex')}\n`],
  ])('accepts %s', (_name, text) => {
    expect(parseKey(text).equals(KEY)).toBe(true);
  });

  it('reads a key that contains both + and / or - and _ characters in either alphabet', () => {
    // 0xfb 0xff … encodes to "+/" in base64 and "-_" in base64url.
    const key = Buffer.alloc(32, 0xfb);
    key[1] = 0xff;
    expect(parseKey(key.toString('base64')).equals(key)).toBe(true);
    expect(parseKey(key.toString('base64url')).equals(key)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['63 hex characters', KEY.toString('hex').slice(1)],
    ['65 hex characters', `${KEY.toString('hex')}0`],
    ['a 16-byte key in hex', KEY.subarray(0, 16).toString('hex')],
    ['a 24-byte key in base64', KEY.subarray(0, 24).toString('base64')],
    ['a 48-byte key in base64', randomBytes(48).toString('base64')],
    ['mixed alphabets', `+_${KEY.toString('base64').slice(2)}`],
    ['a passphrase', 'correct horse battery staple'],
    ['hex with a non-hex character', `g${KEY.toString('hex').slice(1)}`],
  ])('refuses %s with a message that names the variable', (_name, text) => {
    expect(() => parseKey(text)).toThrow(BackupKeyError);
    expect(() => parseKey(text)).toThrow(MESSAGE);
  });

  it('refuses base64 whose last character carries bits beyond the 32 bytes', () => {
    const text = KEY.toString('base64'); // 43 characters + '='; the 43rd has 2 unused bits
    const last = text[42];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sloppy = `${text.slice(0, 42)}${alphabet[alphabet.indexOf(last) | 1]}=`;
    expect(() => parseKey(sloppy)).toThrow(MESSAGE);
  });

  it('never repeats the key text in its message', () => {
    const text = KEY.toString('hex').slice(2);
    try {
      parseKey(text);
      throw new Error('expected a failure');
    } catch (err) {
      expect((err as Error).message).not.toContain(text.slice(0, 8));
    }
  });

  it('names another variable when asked', () => {
    expect(() => parseKey('nope', 'OTHER_KEY')).toThrow('OTHER_KEY must be 32 bytes');
  });
});

describe('parseKeyList', () => {
  it('splits on commas and whitespace and allows an empty list', () => {
    const other = randomBytes(32);
    const keys = parseKeyList(` ${KEY.toString('hex')}, ${other.toString('base64')}\n`);
    expect(keys.map((k) => k.toString('hex'))).toEqual([KEY.toString('hex'), other.toString('hex')]);
    expect(parseKeyList('')).toEqual([]);
    expect(parseKeyList(' , ')).toEqual([]);
  });

  it('names the bad entry by position', () => {
    expect(() => parseKeyList(`${KEY.toString('hex')},short`)).toThrow('BACKUP_DECRYPTION_KEYS entry 2 must be 32 bytes');
    expect(() => parseKeyList('short')).toThrow(/^BACKUP_DECRYPTION_KEYS must be 32 bytes/);
  });
});

describe('keyId', () => {
  it('is the first 8 bytes of SHA-256 of the key, in hex', () => {
    expect(keyId(KEY)).toBe(createHash('sha256').update(KEY).digest('hex').slice(0, 16));
    expect(keyId(KEY)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyId(randomBytes(32))).not.toBe(keyId(KEY));
  });
});
