import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { until } from './support/until';
import { Client } from 'pg';
import { gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';

let kiln: TestKiln;

beforeAll(async () => {
  kiln = await startTestKiln({ SOCKET_AUTH_TIMEOUT_MS: '300' });
});
afterAll(async () => kiln?.close());

describe('GET /health', () => {
  it('is 200 while the database answers', async () => {
    const res = await fetch(`${kiln.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'up' });
  });

  it('is 503 when the database cannot be reached', async () => {
    const dbName = new URL(kiln.databaseUrl).pathname.slice(1);
    const other = await startTestKiln({}, kiln.databaseUrl);
    const admin = new Client({ connectionString: kiln.databaseUrl.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    try {
      // Refuse new connections and cut the open ones: the pool has nothing left.
      await admin.query(`ALTER DATABASE "${dbName}" WITH ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName]);
      const res = await fetch(`${other.url}/health`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', database: 'down' });
    } finally {
      await admin.query(`ALTER DATABASE "${dbName}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
      await other.close();
    }
    // The first instance's pool reconnects by itself.
    const status = await until('the first instance to be healthy again', async () => {
      const res = await fetch(`${kiln.url}/health`);
      await res.text();
      return res.status;
    }, (st) => st === 200, 30_000, 50);
    expect(status).toBe(200);
  });
});

describe('graphql-ws on /graphql', () => {
  function wsClient(connectionParams: Record<string, unknown>) {
    return createClient({ url: `${kiln.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
  }

  function closeOf(connectionParams: Record<string, unknown>): Promise<{ code: number; reason: string }> {
    return new Promise((resolve) => {
      const client = wsClient(connectionParams);
      client.on('closed', (event) => {
        const e = event as { code: number; reason: string };
        resolve({ code: e.code, reason: e.reason });
        void client.dispose();
      });
    });
  }

  it('closes a connection without a token with 4401 UNAUTHENTICATED once SOCKET_AUTH_TIMEOUT_MS passes without a token', async () => {
    const closed = await closeOf({});
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/^UNAUTHENTICATED/);
  });

  // GraphiQL's way: connection_init without a token, then the Headers tab in each operation's extensions.
  function subscribeWithHeaders(headers: Record<string, string>): Promise<{ result?: unknown; code?: number }> {
    return new Promise((resolve) => {
      const client = wsClient({});
      client.on('closed', (event) => resolve({ code: (event as { code: number }).code }));
      client.subscribe(
        { query: '{ me { email } }', extensions: { headers } },
        { next: (result) => resolve({ result }), error: () => undefined, complete: () => void client.dispose() },
      );
    });
  }

  it('authenticates a token-less connection by its first operation’s extensions.headers.Authorization', async () => {
    const token = await loginToken(kiln.url);
    expect(await subscribeWithHeaders({ Authorization: `Bearer ${token}` })).toEqual({ result: { data: { me: { email: 'root@kiln.test' } } } });
  });

  it.each([
    ['no Authorization header', {}],
    ['a bad token', { Authorization: 'Bearer not-a-token' }],
  ])('closes a token-less connection whose first operation brings %s with 4401', async (_what, headers: Record<string, string>) => {
    expect(await subscribeWithHeaders(headers)).toEqual({ code: 4401 });
  });

  it('closes a connection with a bad token with 4401', async () => {
    const closed = await closeOf({ authorization: 'Bearer not-a-token' });
    expect(closed.code).toBe(4401);
  });

  it('accepts a valid token and runs operations over the socket', async () => {
    const token = await loginToken(kiln.url);
    const client = wsClient({ authorization: `Bearer ${token}` });
    try {
      const result = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ me { email } }' }, { next: resolve, error: reject, complete: () => undefined });
      });
      expect(result).toEqual({ data: { me: { email: 'root@kiln.test' } } });
    } finally {
      await client.dispose();
    }
  });

  it('closes a connection whose session is logged out (4403) before the logout answers, so nothing more runs on it', async () => {
    const token = await loginToken(kiln.url);
    const client = wsClient({ authorization: `Bearer ${token}` });
    let closed: { code: number; reason: string } | undefined;
    client.on('closed', (event) => (closed = event as { code: number; reason: string }));
    try {
      const first = await new Promise<unknown>((resolve, reject) =>
        client.subscribe({ query: '{ me { email } }' }, { next: resolve, error: reject, complete: () => undefined }),
      );
      expect(first).toEqual({ data: { me: { email: 'root@kiln.test' } } });
      await gql(kiln.url, 'mutation { logout }', {}, token);
      await until('the close to arrive', async () => closed, (c) => c !== undefined, 5000, 10);
      expect(closed).toMatchObject({ code: 4403, reason: expect.stringContaining('FORBIDDEN') });
      const second = await new Promise<unknown>((resolve) =>
        client.subscribe({ query: '{ me { email } }' }, { next: resolve, error: resolve, complete: () => undefined }),
      );
      expect(JSON.stringify(second)).not.toContain('root@kiln.test');
    } finally {
      await client.dispose();
    }
  });
});

it('serves the landing page for browsers on GET /graphql', async () => {
  const res = await fetch(`${kiln.url}/graphql`, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  // Read to its end: an unread body keeps the connection (and the jest worker) open.
  await res.text();
});
