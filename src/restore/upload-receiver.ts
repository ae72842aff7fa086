import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import { newId } from '../db/ids';
import { BadUserInputError } from '../errors/kiln-errors';

export interface ReceivedUpload {
  path: string;
  filename: string;
  bytes: number;
}

/**
 * Copies an uploaded backup to a file of ours before the request ends (the
 * upload's own buffer goes away with the response). Bounded by maxBytes; a
 * cut-off or oversized upload leaves nothing behind.
 */
export async function receiveUpload(upload: Promise<FileUpload>, dir: string, maxBytes: number): Promise<ReceivedUpload> {
  let file: FileUpload;
  try {
    file = await upload;
  } catch (err) {
    throw new BadUserInputError(`The upload failed: ${(err as Error).message}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const target = path.join(dir, `${newId()}.upload`);
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) done(new BadUserInputError(`The file is larger than MAX_UPLOAD_BYTES (${maxBytes} bytes)`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(file.createReadStream(), limit, createWriteStream(target, { mode: 0o600 }));
  } catch (err) {
    await rm(target, { force: true });
    if (err instanceof BadUserInputError) throw err;
    const message = (err as Error).message;
    if (/truncated/i.test(message)) throw new BadUserInputError(`The file is larger than MAX_UPLOAD_BYTES (${maxBytes} bytes)`);
    throw new BadUserInputError(`The upload was cut off before the whole file arrived: ${message}`);
  }
  return { path: target, filename: path.basename(file.filename || 'upload'), bytes };
}
