import express, { type ErrorRequestHandler, type Express } from 'express';
import type { DataSource } from 'typeorm';
import { query } from '../db/sql';
import { reportUnexpected } from '../errors/unexpected-error';
import type { Logger } from '../logging/logger';
import type { BackupHealthService } from '../system/backup-health.service';
import type { BackupHealth } from '../system/backup-health.type';
import type { MaintenanceService } from '../system/maintenance.service';

const HEALTH_TIMEOUT_MS = 2000;

/** The plain HTTP routes: liveness and the public maintenance flag. */
export function createHttpApp(deps: {
  dataSource: DataSource;
  maintenance: MaintenanceService;
  health: BackupHealthService;
  logger: Logger;
  /** Proxies whose X-Forwarded-* headers are believed (TRUST_PROXY); false: nobody's. */
  trustProxy: string[] | false;
}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);

  app.get('/health', async (_req, res) => {
    try {
      await withTimeout(query(deps.dataSource, 'SELECT 1'), HEALTH_TIMEOUT_MS);
      res.json({ status: 'ok', database: 'up' });
    } catch (err) {
      deps.logger.warn({ err }, 'health check: database unreachable');
      res.status(503).json({ status: 'unavailable', database: 'down' });
    }
  });

  // For monitors: 200 while the backups are healthy, 503 with the problems otherwise.
  // Public like /health; it names problems, never files, keys or hosts.
  // Anonymous and a dozen queries each: requests that arrive while one is evaluated share it.
  let evaluating: Promise<BackupHealth> | undefined;
  app.get('/health/backups', async (_req, res, next) => {
    try {
      evaluating ??= deps.health.health('instance', 'public').finally(() => (evaluating = undefined));
      const health = await evaluating;
      res.status(health.healthy ? 200 : 503).set('Cache-Control', 'no-store').json(health);
    } catch (err) {
      next(err);
    }
  });

  // Public on purpose: the lending app and its frontends poll it to show a banner.
  app.get('/maintenance', async (_req, res, next) => {
    try {
      const state = await deps.maintenance.get();
      res.set('Cache-Control', 'no-store').json({ enabled: state.enabled, reason: state.reason, since: state.since?.toISOString() ?? null });
    } catch (err) {
      next(err);
    }
  });
  return app;
}

/** Last in the chain: JSON errors (body too large, bad JSON, …), never an HTML stack trace. */
export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (thrown, _req, res, _next) => {
    // Whatever a middleware threw: body-parser's errors carry an HTTP status and a message.
    const err = thrown as { status?: unknown; message?: unknown } | undefined;
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) {
      const { message, reference } = reportUnexpected(logger, err, 'unhandled HTTP error');
      res.status(status).json({ errors: [{ message, extensions: { code: 'INTERNAL', reference } }] });
      return;
    }
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    const message = typeof err?.message === 'string' ? err.message : 'Bad request';
    res.status(status).json({ errors: [{ message, extensions: { code } }] });
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
