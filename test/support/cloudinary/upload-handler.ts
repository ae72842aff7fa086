/**
 * POST /v1_1/:cloud/:resource_type/upload — one request, or one chunk of a
 * chunked upload (Content-Range + X-Unique-Upload-Id). Chunks are signed one
 * by one, every chunk but the last must be at least `minChunkBytes`, and the
 * last one must arrive after all the others: Cloudinary's rules for
 * self-implemented chunked upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { CloudinaryError, uploadJson } from './cloudinary-responses';
import type { ParamValue } from './cloudinary-signature';
import { IncompleteUploadError } from './object-store';
import { checkCloud, checkSignature, single } from './request-auth';
import type { ReceivedFile } from './request-body';
import type { Exchange, ServerContext } from './server-context';

const DELIVERY_TYPES = new Set(['upload', 'private', 'authenticated']);
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|-1|\*)$/;

function randomPublicId(seed?: string): string {
  const source = seed ? createHash('sha1').update(seed).digest() : randomBytes(20);
  return source.toString('base64').replace(/[^a-z0-9]/g, '').slice(0, 20) || 'upload';
}

function isFalse(value: string | undefined): boolean {
  return value === '0' || value === 'false';
}

/**
 * Where the asset lands. `folder` prefixes the public_id, as in fixed-folder
 * accounts (and as the legacy parameter does in dynamic-folder ones).
 */
function publicIdOf(params: Record<string, ParamValue>, uploadId: string | undefined): { publicId: string; folder: string } {
  const folder = (single(params.folder) ?? '').replace(/^\/+|\/+$/g, '');
  // A chunked upload without public_id gets one random id for all its chunks.
  const id = single(params.public_id) || randomPublicId(uploadId);
  return { publicId: folder ? `${folder}/${id}` : id, folder };
}

export async function handleUpload(ctx: ServerContext, ex: Exchange): Promise<void> {
  const body = await ctx.readBody(ex);
  try {
    checkCloud(ex.route.cloud, ctx.auth);
    checkSignature(body.params, 'upload', ctx.auth);
    const resourceType = ex.route.resourceType;
    if (resourceType === 'image') throw new CloudinaryError(400, 'Invalid image file');
    if (resourceType === 'video') throw new CloudinaryError(400, 'Unsupported video format or file');
    if (resourceType !== 'raw' && resourceType !== 'auto') {
      throw new CloudinaryError(400, `Invalid resource type ${resourceType}`);
    }
    if (!body.file) throw new CloudinaryError(400, 'Missing required parameter - file');
    const type = single(body.params.type) || 'upload';
    if (!DELIVERY_TYPES.has(type)) throw new CloudinaryError(400, `Invalid type parameter ${type}`);

    const contentRange = ex.req.headers['content-range'];
    if (contentRange === undefined) {
      const target = publicIdOf(body.params, undefined);
      ex.record.publicId = target.publicId;
      await ctx.send(ex, 200, await finish(ctx, body.params, target, type, body.file, 1));
      return;
    }
    await handleChunk(ctx, ex, body.params, type, body.file, contentRange);
  } finally {
    if (body.file) await rm(body.file.path, { force: true }); // already moved unless refused
  }
}

async function handleChunk(
  ctx: ServerContext,
  ex: Exchange,
  params: Record<string, ParamValue>,
  type: string,
  file: ReceivedFile,
  contentRange: string,
): Promise<void> {
  const match = CONTENT_RANGE.exec(contentRange.trim());
  if (!match) throw new CloudinaryError(400, `Invalid Content-Range header ${contentRange}`);
  const uploadId = ex.req.headers['x-unique-upload-id'];
  if (typeof uploadId !== 'string' || uploadId === '') {
    throw new CloudinaryError(400, 'Missing X-Unique-Upload-Id header for a chunked upload');
  }
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '-1' || match[3] === '*' ? -1 : Number(match[3]);
  if (end < start || (total !== -1 && end >= total)) {
    throw new CloudinaryError(400, `Invalid Content-Range header ${contentRange}`);
  }
  if (end - start + 1 !== file.bytes) {
    throw new CloudinaryError(400, `Content-Range ${contentRange} does not match the ${file.bytes} bytes received`);
  }
  const last = total !== -1 && end + 1 === total;
  if (!last && file.bytes < ctx.minChunkBytes) {
    throw new CloudinaryError(
      400,
      `Chunk of ${file.bytes} bytes is too small: every chunk but the last must be at least ${ctx.minChunkBytes} bytes`,
    );
  }
  if (start > 0 && !ctx.store.hasSession(uploadId)) {
    throw new CloudinaryError(400, `Unknown upload ${uploadId}: its first chunk must arrive first`);
  }

  const target = publicIdOf(params, uploadId);
  ex.record.publicId = target.publicId;
  const held = await ctx.store.addChunk(uploadId, { start, end }, file);
  if (!last) {
    await ctx.send(ex, 200, { done: false, bytes: held, public_id: target.publicId, resource_type: 'raw' });
    return;
  }
  const assembled = await ctx.store.assemble(uploadId, total).catch((error: unknown) => {
    if (error instanceof IncompleteUploadError) throw new CloudinaryError(400, `Upload incomplete: ${error.message}`);
    throw error;
  });
  try {
    const { parts, ...whole } = assembled;
    await ctx.send(ex, 200, await finish(ctx, params, target, type, { ...whole, filename: file.filename }, parts));
  } finally {
    await rm(assembled.path, { force: true });
  }
}

async function finish(
  ctx: ServerContext,
  params: Record<string, ParamValue>,
  target: { publicId: string; folder: string },
  type: string,
  file: ReceivedFile,
  parts: number,
): Promise<Record<string, unknown>> {
  const existing = ctx.store.find(target.publicId, type);
  // overwrite defaults to true for signed uploads; false keeps the old asset and says so.
  if (existing && isFalse(single(params.overwrite))) return uploadJson(existing, ctx.account, true);
  const stored = await ctx.store.put(target.publicId, type, file, {
    assetFolder: target.folder,
    originalFilename: path.parse(file.filename || 'file').name,
    parts,
    now: ctx.auth.now(),
  });
  return uploadJson(stored, ctx.account, false);
}
