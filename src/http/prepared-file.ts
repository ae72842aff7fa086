import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Request, Response } from 'express';

/** A file served from memory: gzipped and hashed once, so a request costs no CPU. */
export interface PreparedFile {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
  contentType: string;
}

export async function prepareFile(body: Buffer, contentType: string): Promise<PreparedFile> {
  return {
    body,
    gzipped: await promisify(gzip)(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    contentType,
  };
}

/** Sends `file` with `headers`: 304 when the client's copy is current, gzip when it takes it. */
export function sendPrepared(req: Request, res: Response, file: PreparedFile, headers: Record<string, string>): void {
  const gzipped = req.acceptsEncodings('gzip') === 'gzip';
  res.set({
    Vary: 'Accept-Encoding',
    ...headers,
    'Content-Type': file.contentType,
    // Each encoding is its own representation, with its own strong validator.
    ETag: gzipped ? `${file.etag.slice(0, -1)}-gz"` : file.etag,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  if (req.fresh) return void res.status(304).end();
  if (gzipped) res.set('Content-Encoding', 'gzip').send(file.gzipped);
  else res.send(file.body);
}
