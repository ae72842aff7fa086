import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import type { AuthService } from '../auth/auth.service';
import { bearerToken, type DownloadTokenService } from '../auth/token.service';
import type { DownloadSource } from '../backup/backup-links.service';
import type { BackupService } from '../backup/backup.service';
import type { BackupReadLimits } from '../backup/format/backup-reader';
import { Role } from '../domain/lending-enums';
import { BadUserInputError, ErrorCode, ForbiddenError, NotFoundError, UnauthenticatedError } from '../errors/kiln-errors';
import { toKilnError } from '../errors/to-kiln-error';
import type { ByteRange } from '../storage/storage-driver';
import { reportUnexpected } from '../errors/unexpected-error';
import type { Logger } from '../logging/logger';

/**
 * GET/HEAD /backups/:id/download: the file with Content-Length, Content-Disposition,
 * a strong ETag (the file's sha256, Backup.fileChecksum) and byte ranges. Authorised by an ADMIN's
 * bearer token or by the signed `token` of Backup.downloadUrl. `?format=sql`: the backup as a
 * plain SQL script (Backup.sqlDownloadUrl), streamed from wherever its file is.
 */
export function downloadRouter(deps: { auth: AuthService; backups: BackupService; downloads: DownloadTokenService; logger: Logger; readLimits: BackupReadLimits }): Router {
  const router = Router();
  router.get('/backups/:id/download', async (req, res) => {
    const id = req.params.id;
    try {
      // No backup id holds a NUL (PostgreSQL text cannot): answer 404 before any query trips on it.
      if (id.includes('\0')) throw new NotFoundError('Backup', id.replace(/\0/g, '\\0'));
      const link = typeof req.query.token === 'string' ? req.query.token : undefined;
      if (link !== undefined) {
        if (!deps.downloads.allows(link, id)) throw new UnauthenticatedError('This download link is invalid or has expired', { reason: 'LINK_INVALID' });
      } else {
        const token = bearerToken(req.headers.authorization);
        if (!token) throw new UnauthenticatedError();
        const identity = await deps.auth.authenticate(token);
        if (identity.role !== Role.ADMIN) throw new ForbiddenError();
      }
      if (req.query.format !== undefined && req.query.format !== 'sql') throw new BadUserInputError('format must be sql, or left out for the backup file itself');
      if (req.query.format === 'sql') return await sendSqlScript(res, id, deps);
      const target = await deps.backups.downloadTarget(id);
      // Only off-site, in a store with links of its own (Cloudinary's signed, expiring link): the browser goes there.
      if ('redirect' in target) return res.redirect(302, target.redirect);
      await sendStoredFile(req, res, target, deps.logger, id);
    } catch (err) {
      sendError(res, err, deps.logger);
    }
  });
  return router;
}

/**
 * The file, streamed from its store: Content-Length, Content-Disposition, the ETag set by the
 * caller, Last-Modified, conditional GET, one byte range (more than one: the whole file, as `send` does).
 */
async function sendStoredFile(req: Request, res: Response, file: DownloadSource, logger: Logger, backupId: string): Promise<void> {
  // The whole file's sha256: what `sha256sum` of the download prints.
  const etag = file.fileChecksum ? `"${file.fileChecksum}"` : undefined;
  if (preconditionFailed(req, etag, file.modifiedAt)) {
    res.status(412).json({ errors: [{ message: 'The backup file is not the version the request names (If-Match / If-Unmodified-Since)', extensions: { code: 'BAD_USER_INPUT' } }] });
    return;
  }
  res.set('Cache-Control', 'private, no-store').set('Accept-Ranges', 'bytes');
  if (etag) res.set('ETag', etag);
  if (file.modifiedAt) res.set('Last-Modified', file.modifiedAt.toUTCString());
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  let range: ByteRange | undefined;
  if (req.headers.range && rangeStillApplies(req, file)) {
    const ranges = req.range(file.bytes, { combine: true });
    if (ranges === -1) throw Object.assign(new Error('Requested range not satisfiable'), { status: 416, headers: { 'Content-Range': `bytes */${file.bytes}` } });
    if (ranges !== undefined && ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) range = { start: ranges[0].start, end: ranges[0].end };
  }
  // Opened before the file's own headers go out: a copy that cannot be read is still an error answer.
  const body = req.method === 'HEAD' ? null : await file.open(range);
  res.attachment(file.filename);
  if (range) res.status(206).set('Content-Range', `bytes ${range.start}-${range.end}/${file.bytes}`);
  res.set('Content-Length', String(range ? range.end - range.start + 1 : file.bytes));
  if (!body) {
    res.end();
    return;
  }
  try {
    await pipeline(body, res);
  } catch (err) {
    logger.warn({ err, backupId }, 'download interrupted');
    res.destroy();
  }
}

/** If-Match / If-Unmodified-Since (RFC 9110 13.1.1, 13.1.4): the client wants only this version of the file. */
function preconditionFailed(req: Request, etag: string | undefined, modifiedAt: Date | undefined): boolean {
  const ifMatch = req.get('if-match');
  if (ifMatch) return ifMatch.trim() !== '*' && !ifMatch.split(',').some((tag) => tag.trim() === etag);
  const since = Date.parse(req.get('if-unmodified-since') ?? '');
  return !Number.isNaN(since) && modifiedAt !== undefined && Math.floor(modifiedAt.getTime() / 1000) * 1000 > since;
}

/** If-Range: a range applies only to the version of the file the client names (ETag or date). */
function rangeStillApplies(req: Request, file: DownloadSource): boolean {
  const ifRange = req.get('if-range');
  if (!ifRange) return true;
  if (ifRange.includes('"')) return file.fileChecksum !== null && ifRange === `"${file.fileChecksum}"`;
  const since = Date.parse(ifRange);
  return file.modifiedAt !== undefined && !Number.isNaN(since) && Math.floor(file.modifiedAt.getTime() / 1000) * 1000 <= since;
}

/** The backup as a SQL script, streamed as it is read: never built in memory. */
async function sendSqlScript(res: Response, id: string, deps: { backups: BackupService; logger: Logger; readLimits: BackupReadLimits }): Promise<void> {
  const { filename, script } = await deps.backups.sqlScript(id, deps.readLimits);
  res.set('Cache-Control', 'private, no-store').attachment(filename).type('application/sql; charset=utf-8');
  try {
    await pipeline(Readable.from(script), res);
  } catch (err) {
    // Cut off mid-way, the script ends inside a transaction: psql -v ON_ERROR_STOP=1 stops, nothing half-loaded stays.
    deps.logger.warn({ err, backupId: id }, 'SQL export interrupted');
    if (!res.headersSent) throw err;
    res.destroy();
  }
}

function sendError(res: Response, err: unknown, logger: Logger): void {
  const http = err as { status?: number; headers?: Record<string, string> };
  if (http.status === 416) {
    // The Range asked for lies beyond the file; this answer is JSON, not the file's type.
    res.set(http.headers ?? {}).status(416).type('json').json({ errors: [{ message: 'Requested range not satisfiable', extensions: { code: 'BAD_USER_INPUT' } }] });
    return;
  }
  const known = toKilnError(err);
  if (known) {
    res.status(known.httpStatus).json({ errors: [{ message: known.message, extensions: known.extensions }] });
    return;
  }
  const { message, reference } = reportUnexpected(logger, err, 'download failed');
  res.status(500).json({ errors: [{ message, extensions: { code: ErrorCode.INTERNAL, reference } }] });
}
