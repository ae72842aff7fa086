/** Requests a hostile client sends to make the gateway work or talk more than it should. */
import http from 'node:http';
import { createClient } from 'graphql-ws';
import { Client } from 'pg';
import WebSocket from 'ws';
import { freshDatabase, workerDatabaseName } from './support/test-database';
import { inMaintenance, noUploadsLeft, uploadRestore, uploadsLeft } from './support/restore-helpers';
import { until } from './support/until';
import { gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';

let kiln: TestKiln;
const logs: Array<Record<string, any>> = [];
beforeAll(async () => {
  kiln = await startTestKiln({}, undefined, logs);
});
afterAll(async () => kiln?.close());

const post = async (body: string) => {
  const res = await fetch(`${kiln.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
};

it('answers a small request with a small answer: 5,000 bad keys give 10 short errors and a count, and no warning in the log', async () => {
  const input: Record<string, number> = {};
  for (let k = 0; k < 5000; k++) input[`k${k}`] = 1;
  const request = JSON.stringify({ query: 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id } }', variables: { i: input } });
  expect(request.length).toBeGreaterThan(45_000);
  const before = logs.length;
  const res = await post(request);
  expect(res.status).toBe(400);
  // Before: 2.45 MB, each error echoing the whole value.
  expect(res.text.length).toBeLessThan(6_000);
  const errors = JSON.parse(res.text).errors;
  expect(errors.length).toBeLessThanOrEqual(11);
  expect(errors.every((e: any) => e.message.length <= 400 && e.extensions.code === 'BAD_USER_INPUT')).toBe(true);
  expect(logs.slice(before).filter((l) => l.level >= 40)).toEqual([]);
});

it('answers a NUL character in an id with 400/404, never 500', async () => {
  const token = await loginToken(kiln.url);
  const graphql = await fetch(`${kiln.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'query($id: ID!) { backup(id: $id) { id } job(id: $id) { id } }', variables: { id: 'abc\u0000def' } }),
  });
  const body = (await graphql.json()) as any;
  expect(body.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
  expect(body.errors[0].message).toContain('NUL');
  const download = await fetch(`${kiln.url}/backups/abc%00def/download`, { headers: { authorization: `Bearer ${token}` } });
  expect(download.status).toBe(404);
  expect(((await download.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
});

it('answers a document over the token limit with 400, not 500', async () => {
  const strict = await startTestKiln({ MAX_QUERY_TOKENS: '200' }, kiln.databaseUrl);
  try {
    const wide = `{ ${Array.from({ length: 150 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const res = await fetch(`${strict.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: wide }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0].message).toMatch(/token limit/i);
  } finally {
    await strict.close();
  }
});

it('shows the schema to admins, to anonymous clients only with INTROSPECTION=public', async () => {
  const INTROSPECT = '{ __schema { queryType { name } } }';
  expect(JSON.parse((await post(JSON.stringify({ query: INTROSPECT }))).text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  expect(JSON.parse((await post(JSON.stringify({ query: '{ __type(name: "Backup") { name } }' }))).text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  const token = await loginToken(kiln.url);
  expect((await gql(kiln.url, INTROSPECT, {}, token)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  const open = await startTestKiln({ INTROSPECTION: 'public' }, kiln.databaseUrl);
  try {
    expect((await gql(open.url, INTROSPECT)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  } finally {
    await open.close();
  }
});

it('builds links from the bound address, whatever Host and X-Forwarded-Proto the client sends', async () => {
  const token = await loginToken(kiln.url);
  const started = await gql(kiln.url, 'mutation { createBackup { id backup { id } } }', {}, token);
  await kiln.services.jobs.settled(started.data!.createBackup.id);
  const res = await fetch(`${kiln.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, host: 'evil.example:666', 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'evil.example' },
    body: JSON.stringify({ query: 'query($id: ID!) { backup(id: $id) { downloadUrl } }', variables: { id: started.data!.createBackup.backup.id } }),
  });
  const link = ((await res.json()) as any).data.backup.downloadUrl as string;
  expect(link.startsWith(`${kiln.url}/backups/`)).toBe(true);

  // A range past the end: the 416 answer is JSON, and says so.
  const range = await fetch(new URL(link).toString(), { headers: { range: 'bytes=999999999-' } });
  expect(range.status).toBe(416);
  expect(range.headers.get('content-type')).toMatch(/^application\/json/);
});

it('creates no admin and shows no password when it cannot bind its port', async () => {
  const url = await freshDatabase(`${workerDatabaseName()}_busy_port`);
  const port = new URL(kiln.url).port;
  await expect(startTestKiln({ PORT: port, ADMIN_PASSWORD: '' }, url)).rejects.toThrow(/EADDRINUSE/);
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    expect((await db.query(`SELECT count(*)::int AS n FROM "User"`)).rows[0].n).toBe(0);
  } finally {
    await db.end();
  }
});

it('formats errors over graphql-ws as over HTTP', async () => {
  const token = await loginToken(kiln.url);
  const client = createClient({ url: `${kiln.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
  try {
    const query = '{ backups(limit: 1000) { total } }';
    const overWs = await new Promise<any>((resolve) => client.subscribe({ query }, { next: resolve, error: resolve, complete: () => undefined }));
    const overHttp = await gql(kiln.url, query, {}, token);
    expect(overWs.errors[0]).toMatchObject({ message: overHttp.errors![0].message, extensions: { code: 'BAD_USER_INPUT' } });
    expect(overWs.errors[0].message).toMatch(/^Invalid input: limit/);
    expect(overWs.errors[0].extensions.field).toBe('limit');
  } finally {
    await client.dispose();
  }
});

it('refuses an upload before reading it unless maintenance mode is on and the job slot is free', async () => {
  const token = await loginToken(kiln.url);
  const upload = () => uploadRestore(kiln.url, token, Buffer.alloc(256 * 1024, 0x61));
  expect((await upload()).body.errors[0].extensions.code).toBe('MAINTENANCE_REQUIRED');
  await inMaintenance(kiln.url, token, () => undefined, async () => {
    const db = new Client({ connectionString: kiln.databaseUrl });
    await db.connect();
    try {
      // Another instance's restore holds the one job slot.
      await db.query(`INSERT INTO kiln_leases (name, holder, "jobId", "expiresAt") VALUES ('exclusive-job', 'elsewhere', 'a-running-job', now() + interval '1 minute')
                      ON CONFLICT (name) DO UPDATE SET holder = 'elsewhere', "jobId" = 'a-running-job', "expiresAt" = now() + interval '1 minute'`);
      const busy = await upload();
      expect(busy.status).toBe(409);
      expect(busy.body.errors[0]).toMatchObject({ extensions: { code: 'CONFLICT', runningJobId: 'a-running-job' } });
      expect(uploadsLeft()).toEqual([]);
    } finally {
      await db.query(`UPDATE kiln_leases SET "jobId" = NULL, "expiresAt" = now() WHERE name = 'exclusive-job'`);
      await db.end();
    }
  });
});

describe('uploads while one is being received', () => {
  /** An upload whose body stops half-way and waits: the server is receiving it until we end it. */
  function slowUpload(token: string): { abort(): void; answered: Promise<number> } {
    const boundary = 'kiln-slow-upload';
    const part = (disposition: string) => `--${boundary}\r\nContent-Disposition: form-data; ${disposition}\r\n\r\n`;
    const head =
      `${part('name="operations"')}${JSON.stringify({ query: 'mutation($file: Upload) { restoreBackup(file: $file) { id } }', variables: { file: null } })}\r\n` +
      `${part('name="map"')}${JSON.stringify({ 0: ['variables.file'] })}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="slow.json"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const req = http.request(`${kiln.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + 10 * 1024 * 1024),
        'apollo-require-preflight': 'true',
        authorization: `Bearer ${token}`,
      },
    });
    const answered = new Promise<number>((resolve) => {
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', () => resolve(0));
    });
    req.write(head);
    req.write(Buffer.alloc(1024 * 1024, 0x20));
    return { abort: () => req.destroy(), answered };
  }

  it('refuses other uploads with CONFLICT before reading them, and stores the one it receives once', async () => {
    const token = await loginToken(kiln.url);
    await inMaintenance(kiln.url, token, () => undefined, async () => {
      const slow = slowUpload(token);
      try {
        // The slow upload is being stored (it holds the slot): uploads meanwhile are refused unread.
        await until('the slow upload to be stored', async () => uploadsLeft(), (left) => left.length === 1);
        const others = await Promise.all(Array.from({ length: 10 }, () => uploadRestore(kiln.url, token, Buffer.alloc(256 * 1024, 0x61))));
        expect(others.map((r) => r.status)).toEqual(Array(10).fill(409));
        expect(others[0].body.errors[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/being received/) });
        // Still one file on disk: the upload being received, once (graphql-upload's; no copy of ours).
        expect(uploadsLeft()).toHaveLength(1);
      } finally {
        slow.abort();
      }
      // The slot is free again, and nothing of the cut-off upload stays.
      await until('the cut-off upload to be gone', async () => uploadsLeft(), (left) => left.length === 0);
      const next = await until('an upload to be taken again', () => uploadRestore(kiln.url, token, Buffer.from('not a backup')), (r) => r.status !== 409);
      expect(next.body.errors).toBeUndefined();
      await kiln.services.jobs.settled(next.body.data.restoreBackup.id);
      expect(await kiln.services.jobs.get(next.body.data.restoreBackup.id)).toMatchObject({ status: 'FAILED', errorCode: 'BACKUP_CORRUPT' });
      await noUploadsLeft();
    });
  });
});

it('takes uploads again after a client that left while its upload was being checked', async () => {
  const token = await loginToken(kiln.url);
  await inMaintenance(kiln.url, token, () => undefined, async () => {
    const db = new Client({ connectionString: kiln.databaseUrl });
    await db.connect();
    try {
      // The guard's job-slot check waits on this lock: the client leaves meanwhile.
      await db.query('BEGIN');
      await db.query('LOCK TABLE kiln.kiln_leases IN ACCESS EXCLUSIVE MODE');
      const req = http.request(`${kiln.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': '100000', 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` },
      });
      req.on('error', () => undefined);
      req.flushHeaders();
      await until(
        'the guard to wait for kiln_leases',
        async () => (await kiln.dataSource.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%kiln_leases%'`)).length,
        (n) => n > 0,
        10_000,
        20,
      );
      req.destroy();
      await until('the server to see the client gone', async () => req.destroyed, (gone) => gone);
      await db.query('COMMIT');
      const next = await until('an upload to be taken', () => uploadRestore(kiln.url, token, Buffer.from('not a backup')), (r) => r.status !== 409, 10_000);
      expect(next.body.errors).toBeUndefined();
      await kiln.services.jobs.settled(next.body.data.restoreBackup.id);
      await noUploadsLeft();
    } finally {
      await db.query('ROLLBACK').catch(() => undefined);
      await db.end();
    }
  });
});

it('refuses an upload the disk has no room for: by its declared size before reading it, and as it arrives without one', async () => {
  const small = await startTestKiln({ UPLOAD_MIN_FREE_BYTES: String(2 ** 52) }, kiln.databaseUrl);
  try {
    const token = await loginToken(small.url);
    // Maintenance mode is the database's, which this gateway shares with the file's main one: off again after, whatever happens.
    await inMaintenance(small.url, token, () => undefined, async () => {
      const declared = await uploadRestore(small.url, token, Buffer.alloc(64 * 1024, 0x61));
      expect(declared.status).toBe(503);
      expect(declared.body.errors[0]).toMatchObject({ extensions: { code: 'STORAGE_UNAVAILABLE' }, message: expect.stringMatching(/UPLOAD_MIN_FREE_BYTES/) });

      // A chunked body declares no size: it is checked as it arrives.
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: 'mutation($file: Upload) { restoreBackup(file: $file) { id } }', variables: { file: null } }));
      form.append('map', JSON.stringify({ 0: ['variables.file'] }));
      form.append('0', new Blob([Buffer.alloc(64 * 1024, 0x61)]), 'backup.json');
      const encoded = new Response(form);
      const res = await fetch(`${small.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': encoded.headers.get('content-type')!, 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` },
        body: encoded.body,
        duplex: 'half',
      } as RequestInit);
      const body = (await res.json()) as any;
      expect(body.errors[0]).toMatchObject({ extensions: { code: 'STORAGE_UNAVAILABLE' } });
      await until('the refused upload to be gone', async () => uploadsLeft(), (left) => left.length === 0);
    });
  } finally {
    await small.close();
  }
});
