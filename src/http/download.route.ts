import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Response } from 'express';
import type { AuthService } from '../auth/auth.service';
import { bearerToken, type DownloadTokenService } from '../auth/token.service';
import type { BackupService } from '../backup/backup.service';
import type { BackupReadLimits } from '../backup/format/backup-reader';
import { Role } from '../domain/lending-enums';
import { BadUserInputError, ErrorCode, ForbiddenError, NotFoundError, UnauthenticatedError } from '../errors/kiln-errors';
import { toKilnError } from '../errors/to-kiln-error';
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
      // A cloud-only backup: the browser goes to Cloudinary's signed, expiring link.
      if ('redirect' in target) return res.redirect(302, target.redirect);
      // The whole file's sha256: what `sha256sum` of the download prints.
      if (target.fileChecksum) res.set('ETag', `"${target.fileChecksum}"`);
      res.set('Cache-Control', 'private, no-store');
      res.download(target.path, target.filename, { etag: false, lastModified: true }, (err) => {
        if (err && !res.headersSent) sendError(res, err, deps.logger);
        else if (err) deps.logger.warn({ err, backupId: id }, 'download interrupted');
      });
    } catch (err) {
      sendError(res, err, deps.logger);
    }
  });
  return router;
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
    // From `send`: the Range asked for lies beyond the file.
    // send's headers name the file's type; this answer is JSON.
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
