import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { prepareFile, sendPrepared, type PreparedFile } from './prepared-file';

/**
 * GraphiQL's page renderer, loaded when the page is first built (PLAYGROUND=graphiql only).
 * Required untyped on purpose: its typings import graphql-yoga's, whose fetch types replace the
 * global Blob/BodyInit types of the whole program. Only these options are used.
 */
function renderGraphiQL(options: { title?: string; subscriptionsProtocol?: 'WS'; defaultQuery?: string; shouldPersistHeaders?: boolean }): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const renderer = require('@graphql-yoga/render-graphiql') as { renderGraphiQL(o: typeof options): string };
  return renderer.renderGraphiQL(options);
}

/** PLAYGROUND: Kiln's own GraphiQL (offline), Apollo Sandbox (loads from Apollo's CDN), or none. */
export type PlaygroundMode = 'graphiql' | 'sandbox' | 'off';

const DEFAULT_QUERY = `# Kiln's playground. Every operation but login needs an admin's token:
#   1. run the login mutation below,
#   2. put {"Authorization": "Bearer <token>"} in the Headers tab (it is not stored).
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token expiresAt }
}

query Backups {
  backups(limit: 5) { id status type createdAt fileSize }
}
`;

interface Page {
  file: PreparedFile;
  csp: string;
}

/**
 * GraphiQL from Kiln's own origin at GET /graphql for browsers: one self-contained page
 * (@graphql-yoga/render-graphiql; no CDN, no telemetry), subscriptions over graphql-ws.
 * Its inline scripts are allowed by their hashes, nothing else runs. Built once, on first use.
 */
export function playgroundRoute(): RequestHandler {
  let page: Promise<Page> | undefined;
  return (req, res, next) => {
    // A browser opening the URL; API clients (GET with ?query=, JSON) pass on to Apollo.
    if (req.method !== 'GET' || req.query.query !== undefined || req.accepts(['application/json', 'text/html']) !== 'text/html') return next();
    page ??= buildPage();
    page.then(
      (p) => {
        // Vary: Accept too, as API clients get JSON from the same URL.
        sendPrepared(req, res, p.file, { 'Content-Security-Policy': p.csp, 'Cache-Control': 'no-cache', Vary: 'Accept, Accept-Encoding' });
      },
      (err: unknown) => next(err),
    );
  };
}

async function buildPage(): Promise<Page> {
  const text = renderGraphiQL({
    title: 'Kiln playground',
    subscriptionsProtocol: 'WS',
    defaultQuery: DEFAULT_QUERY,
    // A token typed into the Headers tab stays in the tab, not in localStorage.
    shouldPersistHeaders: false,
  });
  const scripts = [...text.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
  return {
    file: await prepareFile(Buffer.from(text), 'text/html; charset=utf-8'),
    csp: [
      "default-src 'self'",
      `script-src 'self' ${scripts.join(' ')}`,
      // GraphiQL's editor adds styles and starts its language workers from blob: URLs.
      "style-src 'self' 'unsafe-inline'",
      "worker-src 'self' blob:",
      "img-src 'self' data:",
      "font-src 'self' data:",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; '),
  };
}
