import { pipeline, Readable } from 'node:stream';
import { DecryptionError, decryptStream, ENCRYPTION_MAGIC, isEncrypted } from './encryption';

/**
 * The plain bytes of a backup file, decrypting when it starts with the
 * encrypted format's magic (detected by content, like gzip). Without keys an
 * encrypted file fails with a DecryptionError that says which key it needs.
 */
export async function decryptIfEncrypted(input: Readable, keys: readonly Buffer[]): Promise<Readable> {
  const head = await readHead(input, ENCRYPTION_MAGIC.length);
  // A file shorter than the magic has ended already: hand its few bytes on as they are.
  if (head.length < ENCRYPTION_MAGIC.length) return Readable.from(head.length > 0 ? [head] : []);
  input.unshift(head);
  if (!isEncrypted(head)) return input;
  if (keys.length === 0) {
    input.destroy();
    throw new DecryptionError('UNKNOWN_KEY', 'The backup is encrypted and no key is configured: set BACKUP_ENCRYPTION_KEY (or BACKUP_DECRYPTION_KEYS)');
  }
  const plain = decryptStream(keys);
  // pipeline forwards an error of either side to the other; the reader sees it on `plain`.
  pipeline(input, plain, () => undefined);
  return plain;
}

/** Up to `n` first bytes (fewer only at the end of the stream), leaving the stream paused. */
export function readHead(input: Readable, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let length = 0;
    const done = (err?: Error) => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', done);
      if (err) reject(err);
      else resolve(Buffer.concat(parts, length));
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (length < n && (chunk = input.read() as Buffer | null) !== null) {
        parts.push(chunk);
        length += chunk.length;
      }
      if (length >= n) done();
    };
    const onEnd = () => done();
    input.on('readable', onReadable);
    input.once('end', onEnd);
    input.once('error', done);
  });
}
