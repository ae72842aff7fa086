import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Router } from 'express';
import type { Logger } from '../logging/logger';
import { prepareFile, sendPrepared, type PreparedFile } from './prepared-file';

/** The console may run its own bundle and talk to this origin (HTTP and graphql-ws), nothing else. */
const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

interface ConsoleFiles {
  index: PreparedFile;
  /** By file name under assets/: Vite puts a content hash in each. */
  assets: Map<string, PreparedFile>;
}

/**
 * The Kiln console (web/, built by `npm run build` into `dir`) at `/`: read, gzipped and
 * hashed once into memory, so serving it costs no disk or CPU whoever asks. Hashed assets
 * are cached for a year; the page itself is revalidated on every visit.
 */
export function consoleRouter(dir: string, logger: Logger): Router {
  const router = Router();
  let files: Promise<ConsoleFiles> | undefined;
  const load = (): Promise<ConsoleFiles> => {
    files ??= readConsole(dir).catch((err: unknown) => {
      files = undefined; // built later (npm run build): found on the next request
      throw err;
    });
    return files;
  };

  let warned = false;
  router.get(['/', '/index.html'], async (req, res) => {
    try {
      sendPrepared(req, res, (await load()).index, { 'Content-Security-Policy': CONSOLE_CSP, 'Cache-Control': 'no-cache' });
    } catch (err) {
      // Said once: anyone can ask for / as often as they like.
      if (!warned) logger.warn({ err: (err as Error).message, dir }, 'the console is not built');
      warned = true;
      res.status(404).type('text/plain').send('The Kiln console is not built here: run `npm run build`. The GraphQL API is at /graphql.\n');
    }
  });
  router.get('/assets/:name', async (req, res, next) => {
    const asset = await load().then((f) => f.assets.get(req.params.name), () => undefined);
    if (!asset) return next();
    // An asset opened on its own (an SVG, say) runs nothing.
    sendPrepared(req, res, asset, { 'Cache-Control': 'public, max-age=31536000, immutable', 'Content-Security-Policy': "default-src 'none'; sandbox" });
  });
  return router;
}

async function readConsole(dir: string): Promise<ConsoleFiles> {
  const index = await prepareFile(await readFile(path.join(dir, 'index.html')), TYPES['.html']);
  const assets = new Map<string, PreparedFile>();
  for (const name of await readdir(path.join(dir, 'assets'))) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, await prepareFile(await readFile(path.join(dir, 'assets', name)), type));
  }
  return { index, assets };
}
