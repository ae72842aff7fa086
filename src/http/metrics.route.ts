import { timingSafeEqual, createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router, type Request, type Response } from 'express';
import type { Logger } from '../logging/logger';
import type { KilnMetrics } from '../metrics/kiln-metrics';

/** Answers a scrape: the exposition text, never cached. */
async function scrape(metrics: KilnMetrics, res: Response, logger: Logger): Promise<void> {
  try {
    const text = await metrics.text();
    res.status(200).set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(text);
  } catch (err) {
    logger.error({ event: 'metrics_failed', err }, 'metrics could not be read');
    res.status(503).json({ errors: [{ message: 'Metrics are unavailable: the database did not answer', extensions: { code: 'INTERNAL' } }] });
  }
}

// Compared as digests: equal length, so the comparison takes the same time for every guess.
const sameSecret = (given: string, expected: string) => timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());

/** GET /metrics on the main port: only with `Authorization: Bearer <METRICS_TOKEN>`; without a token set, not served here. */
export function metricsRouter(metrics: KilnMetrics, token: string | undefined, logger: Logger): Router {
  const router = Router();
  router.get('/metrics', (req: Request, res: Response) => {
    if (!token) {
      res.status(404).json({ errors: [{ message: 'GET /metrics needs METRICS_TOKEN (a bearer token) or METRICS_PORT (loopback) on the gateway', extensions: { code: 'NOT_FOUND' } }] });
      return;
    }
    const given = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!given || !sameSecret(given, token)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ errors: [{ message: 'GET /metrics needs the METRICS_TOKEN as a bearer token', extensions: { code: 'UNAUTHENTICATED' } }] });
      return;
    }
    void scrape(metrics, res, logger);
  });
  return router;
}

/** METRICS_PORT: /metrics alone, without a token, on loopback only (for a Prometheus on the same host). */
export async function startLoopbackMetrics(metrics: KilnMetrics, port: number, logger: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Only GET /metrics is served here\n');
      return;
    }
    metrics
      .text()
      .then((text) => res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }).end(text))
      .catch((err: unknown) => {
        logger.error({ event: 'metrics_failed', err }, 'metrics could not be read');
        res.writeHead(503, { 'Content-Type': 'text/plain' }).end('Metrics are unavailable: the database did not answer\n');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
