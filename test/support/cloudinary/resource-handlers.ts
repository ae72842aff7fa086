/**
 * The calls Kiln makes about an asset once it is stored: destroy, the private
 * download endpoint behind `utils.private_download_url`, and the Admin API's
 * resource lookups.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { CloudinaryError, resourceJson } from './cloudinary-responses';
import type { StoredObject } from './object-store';
import { checkBasicAuth, checkCloud, checkSignature, single } from './request-auth';
import { queryParams } from './request-body';
import type { Exchange, ServerContext } from './server-context';

/** POST /v1_1/:cloud/:resource_type/destroy → { result: 'ok' | 'not found' } */
export async function handleDestroy(ctx: ServerContext, ex: Exchange): Promise<void> {
  const { params } = await ctx.readBody(ex);
  checkCloud(ex.route.cloud, ctx.auth);
  checkSignature(params, 'destroy', ctx.auth);
  const publicId = single(params.public_id);
  if (!publicId) throw new CloudinaryError(400, 'Missing required parameter - public_id');
  ex.record.publicId = publicId;
  const type = single(params.type) || 'upload';
  const removed = ex.route.resourceType === 'raw' && (await ctx.store.remove(publicId, type));
  await ctx.send(ex, 200, { result: removed ? 'ok' : 'not found' });
}

/** A single `bytes=` range, as [start, end] inclusive; null for the whole file; 'invalid' for 416. */
function parseRange(header: string | undefined, size: number): [number, number] | null | 'invalid' {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null; // multi-range and the like: send it all
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 ? 'invalid' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return start >= size || end < start ? 'invalid' : [start, end];
}

/** GET /v1_1/:cloud/:resource_type/download?public_id&format&type&attachment&expires_at&timestamp&signature&api_key */
export async function handleDownload(ctx: ServerContext, ex: Exchange): Promise<void> {
  const params = queryParams(ex.url.searchParams);
  checkCloud(ex.route.cloud, ctx.auth);
  checkSignature(params, 'download', ctx.auth);
  const publicId = single(params.public_id);
  if (!publicId) throw new CloudinaryError(400, 'Missing required parameter - public_id');
  ex.record.publicId = publicId;
  const type = single(params.type) || 'upload';
  const format = single(params.format);
  // A raw public_id carries its extension; links often repeat it as `format`.
  const object =
    ex.route.resourceType === 'raw'
      ? (ctx.store.find(publicId, type) ?? (format ? ctx.store.find(`${publicId}.${format}`, type) : undefined))
      : undefined;
  if (!object) throw new CloudinaryError(404, `Resource not found - ${publicId}`);

  const range = parseRange(ex.req.headers.range, object.bytes);
  if (range === 'invalid') {
    await ctx.delay(ex);
    ex.res.writeHead(416, { 'Content-Range': `bytes */${object.bytes}` }).end();
    ex.record.status = 416;
    ex.record.outcome = 'answered';
    return;
  }
  const [start, end] = range ?? [0, object.bytes - 1];
  const length = object.bytes === 0 ? 0 : end - start + 1;
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Content-Length': length,
    'Accept-Ranges': 'bytes',
    ETag: `"${object.etag}"`,
    'Last-Modified': new Date(object.createdAt).toUTCString(),
  };
  if (single(params.attachment) === 'true' || single(params.attachment) === '1') {
    headers['Content-Disposition'] = `attachment; filename="${path.posix.basename(object.publicId)}"`;
  }
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${object.bytes}`;

  await ctx.delay(ex);
  const status = range ? 206 : 200;
  ex.res.writeHead(status, headers);
  ex.record.status = status;
  if (ex.req.method === 'HEAD' || length === 0) {
    ex.res.end();
    ex.record.outcome = 'answered';
    return;
  }
  await streamBody(ex, object, start, end, length);
}

async function streamBody(ex: Exchange, object: StoredObject, start: number, end: number, length: number): Promise<void> {
  const cut = ex.fault?.kind === 'reset' ? Math.min(length - 1, ex.fault.afterBytes ?? Math.floor(length / 2)) : undefined;
  const last = cut === undefined ? end : start + cut - 1;
  await new Promise<void>((resolve) => {
    const source = last >= start ? createReadStream(object.path, { start, end: last }) : null;
    const done = (): void => {
      if (cut !== undefined) {
        // Mid-body, once `cut` bytes are flushed: the client sees a truncated download.
        ex.res.write(Buffer.alloc(0), () => ex.res.socket?.destroy());
        ex.record.outcome = 'reset';
      } else {
        ex.res.end();
        ex.record.outcome = 'answered';
      }
      resolve();
    };
    if (!source) return done();
    source.on('error', () => {
      ex.res.destroy();
      ex.record.outcome = 'aborted';
      resolve();
    });
    ex.res.on('close', () => {
      source.destroy();
      resolve();
    });
    source.on('end', done);
    source.pipe(ex.res, { end: false });
  });
}

/**
 * Admin API, Basic auth:
 *   GET    /v1_1/:cloud/resources/:resource_type[/:type]?prefix&max_results&next_cursor → { resources, next_cursor? }
 *   GET    /v1_1/:cloud/resources/:resource_type/:type/:public_id → the resource, or 404
 *   DELETE /v1_1/:cloud/resources/:resource_type/:type  (public_ids[] or prefix) → { deleted, partial }
 */
export async function handleResource(ctx: ServerContext, ex: Exchange): Promise<void> {
  const { params } = await ctx.readBody(ex);
  checkCloud(ex.route.cloud, ctx.auth);
  checkBasicAuth(ex.req.headers.authorization, ctx.auth);
  const { resourceType, publicId } = ex.route;
  const type = ex.route.type ?? single(params.type);
  const all = resourceType === 'raw' ? [...ctx.store.objects.values()].filter((o) => !type || o.type === type) : [];

  if (ex.req.method === 'DELETE') {
    const ids = params.public_ids === undefined ? [] : ([] as string[]).concat(params.public_ids);
    const prefix = single(params.prefix);
    const targets = prefix !== undefined ? all.filter((o) => o.publicId.startsWith(prefix)).map((o) => o.publicId) : ids;
    const deleted: Record<string, string> = {};
    for (const id of targets) deleted[id] = (await ctx.store.remove(id, type ?? 'upload')) ? 'deleted' : 'not_found';
    await ctx.send(ex, 200, { deleted, partial: false });
    return;
  }
  if (publicId !== undefined) {
    ex.record.publicId = publicId;
    const object = all.find((o) => o.publicId === publicId);
    if (!object) throw new CloudinaryError(404, `Resource not found - ${publicId}`);
    await ctx.send(ex, 200, resourceJson(object, ctx.account));
    return;
  }
  const prefix = single(params.prefix) ?? '';
  const max = Math.min(500, Math.max(1, Number(single(params.max_results) ?? 10) || 10));
  const offset = Number(Buffer.from(single(params.next_cursor) ?? '', 'base64url').toString() || 0) || 0;
  const matching = all
    .filter((o) => o.publicId.startsWith(prefix))
    .sort((a, b) => b.version - a.version || a.publicId.localeCompare(b.publicId));
  const page = matching.slice(offset, offset + max);
  const next = offset + max < matching.length ? Buffer.from(String(offset + max)).toString('base64url') : undefined;
  await ctx.send(ex, 200, { resources: page.map((o) => resourceJson(o, ctx.account)), ...(next ? { next_cursor: next } : {}) });
}
