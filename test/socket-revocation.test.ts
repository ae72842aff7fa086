/**
 * Revocation reaches open sockets: a socket whose session ends (logout, a disabled or demoted
 * user, a restore logging everybody out, on this instance or another) stops receiving events
 * and is closed with 4403; subscriptions are capped per socket and per user.
 */
import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { inMaintenance } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

const PROGRESS = 'subscription($id: ID) { jobProgress(jobId: $id) { id kind status backup { id downloadUrl } } }';
const ENV = { SOCKET_SESSION_CHECK_MS: '200', MAX_SUBSCRIPTIONS: '3' };

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(20, ENV);
});
afterAll(async () => s?.close());

interface Socket {
  client: WsClient;
  events: any[];
  errors: any[];
  closed: () => number | undefined;
  connected: Promise<void>;
}

/** A socket following every job (or one), as an admin console would open it. */
function follow(baseUrl: string, token: string, jobId?: string): Socket {
  let code: number | undefined;
  let acknowledged!: () => void;
  const connected = new Promise<void>((resolve) => (acknowledged = resolve));
  const client = createClient({
    url: `${baseUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    // Kept open after its subscriptions end, so what closes it is the server (whose close is asserted, not logged).
    lazy: false,
    onNonLazyError: () => undefined,
    on: { closed: (e) => (code ??= (e as { code: number }).code), connected: () => acknowledged() },
  });
  const socket: Socket = { client, events: [], errors: [], closed: () => code, connected };
  client.subscribe({ query: PROGRESS, variables: { id: jobId } }, { next: (e) => socket.events.push(e), error: (e) => socket.errors.push(e), complete: () => undefined });
  return socket;
}

/** The server accepted the socket (its session is being watched from now on). */
const subscribed = (socket: Socket) => socket.connected;

async function anotherAdmin(email: string): Promise<{ token: string }> {
  await s.db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt")
    SELECT $1, $2, "passwordHash", 'ADMIN', now() FROM "User" WHERE email = $3`, [`u-${email}`, email, TEST_ADMIN.email]);
  return { token: await loginToken(s.kiln.url, email, TEST_ADMIN.password) };
}

it.each([
  ['logs out', async (token: string) => void (await gql(s.kiln.url, 'mutation { logout }', {}, token))],
  ['is disabled', async (_token: string, email: string) => void (await s.db.query(`UPDATE "User" SET "isActive" = false WHERE email = $1`, [email]))],
  ['is demoted', async (_token: string, email: string) => void (await s.db.query(`UPDATE "User" SET role = 'SUPERVISOR' WHERE email = $1`, [email]))],
])('closes the socket of an admin who %s (4403), and it sees no event after', async (what, end) => {
  const email = `socket-${what.replace(/\s/g, '-')}@kiln.test`;
  const { token } = await anotherAdmin(email);
  const socket = follow(s.kiln.url, token);
  await subscribed(socket);
  await end(token, email);
  await until('the socket to close', async () => socket.closed(), (c) => c !== undefined, 5000, 20);
  expect(socket.closed()).toBe(4403);
  const seen = socket.events.length;
  // A new backup (and its signed download link) reaches a live admin, never the ended one.
  const { jobId } = await startBackup(s);
  await finishedJob(s, jobId);
  const live = follow(s.kiln.url, s.token, jobId);
  await until('the live admin to see the backup', async () => live.events.length, (n) => n > 0, 5000, 20);
  expect(live.events[0].data.jobProgress.backup.downloadUrl).toMatch(/token=/);
  expect(socket.events.length).toBe(seen);
  await live.client.dispose();
});

it('closes a socket on another instance when the session ends through this one', async () => {
  const other: TestKiln = await startTestKiln(ENV, s.kiln.databaseUrl);
  try {
    const { token } = await anotherAdmin('socket-elsewhere@kiln.test');
    const socket = follow(other.url, token);
    await subscribed(socket);
    await gql(s.kiln.url, 'mutation { logout }', {}, token);
    await until('the socket on the other instance to close', async () => socket.closed(), (c) => c !== undefined, 5000, 20);
    expect(socket.closed()).toBe(4403);
  } finally {
    await other.close();
  }
});

it("gives the restore's own subscriber its final state, then closes the socket the restore logged out", async () => {
  const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  await inMaintenance(s.kiln.url, s.token, (token) => (s.token = token), async () => {
    let jobId: string | undefined;
    try {
      const res = await gql(s.kiln.url, 'mutation($id: ID) { restoreBackup(id: $id) { id } }', { id: backup.id }, s.token);
      jobId = res.data!.restoreBackup.id as string;
      const socket = follow(s.kiln.url, s.token, jobId);
      await until('the socket to close', async () => socket.closed(), (c) => c !== undefined, 30_000, 50);
      expect(socket.closed()).toBe(4403);
      expect(socket.events.at(-1).data.jobProgress).toMatchObject({ id: jobId, status: 'COMPLETED' });
    } finally {
      // Whatever the outcome, no restore still running for the other tests.
      if (jobId) await s.kiln.services.jobs.settled(jobId);
    }
  });
});

it('caps subscriptions per socket and per user (TOO_MANY_REQUESTS)', async () => {
  const { token } = await anotherAdmin('socket-capped@kiln.test');
  // The server takes a socket's messages in order: when the last is refused, those before it were taken.
  const open = (socket: Socket, count: number) =>
    new Promise<{ errors: any[]; refused: any }>((resolve) => {
      const errors: any[] = [];
      for (let i = 1; i <= count; i++) {
        socket.client.subscribe({ query: PROGRESS, variables: {} }, {
          next: () => undefined,
          error: (e) => (i === count ? resolve({ errors, refused: e }) : errors.push(e)),
          complete: () => undefined,
        });
      }
    });
  const first = follow(s.kiln.url, token); // one subscription already
  const onFirst = await open(first, 3); // the 4th on this socket
  expect(onFirst.errors).toEqual([]);
  expect(onFirst.refused[0].extensions.code).toBe('TOO_MANY_REQUESTS');
  // The same user on a second socket: still 3 in all.
  const second = follow(s.kiln.url, token);
  const onSecond = await open(second, 1);
  expect(onSecond.refused[0].extensions.code).toBe('TOO_MANY_REQUESTS');
  await first.client.dispose();
  await second.client.dispose();
});

it('sends a socket that follows a backup nothing more once its session ends: not the final state, not its download link', async () => {
  const { token } = await anotherAdmin('socket-follower@kiln.test');
  let jobId: string | undefined;
  try {
    const socket = await whileTableLocked(s, async () => {
      // A backup held on a lock; its follower logs out before it ends.
      ({ jobId } = await startBackup(s));
      const follower = follow(s.kiln.url, token, jobId);
      await until('the current state', async () => follower.events.length, (n) => n > 0, 5000, 20);
      await gql(s.kiln.url, 'mutation { logout }', {}, token);
      await until('the socket to close', async () => follower.closed(), (c) => c !== undefined, 5000, 20);
      return follower;
    }, 'LoanType');
    expect(socket.closed()).toBe(4403);
    expect(socket.events.map((e) => e.data.jobProgress.status)).not.toContain('COMPLETED');
  } finally {
    // Freed from the lock, the backup runs on: it ends here, so the next test may start one (one BACKUP job at a time).
    if (jobId) await s.kiln.services.jobs.settled(jobId);
  }
});

describe('a socket opened without a token (GraphiQL’s way: the token comes with each operation)', () => {
  /** A raw graphql-ws socket, acknowledged, that sends what it is told and records what closes it. */
  async function tokenless(): Promise<{ send: (m: unknown) => void; closed: () => number | undefined; messages: any[]; ws: WebSocket }> {
    const ws = new WebSocket(`${s.kiln.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    let code: number | undefined;
    const messages: any[] = [];
    ws.on('close', (c) => (code = c));
    ws.on('message', (m) => messages.push(JSON.parse(String(m))));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await until('the ack (or a close)', async () => messages.length > 0 || code !== undefined, (ok) => ok, 5000, 20);
    return { send: (m) => ws.send(JSON.stringify(m)), closed: () => code, messages, ws };
  }
  const subscribe = (id: string, token: string, query = PROGRESS) => ({ id, type: 'subscribe', payload: { query, extensions: { headers: { Authorization: `Bearer ${token}` } } } });

  it('belongs to the first operation’s token only: two sent at once with two tokens both run as the first, whose logout closes it', async () => {
    const first = await anotherAdmin('socket-race-first@kiln.test');
    const second = await anotherAdmin('socket-race-second@kiln.test');
    const socket = await tokenless();
    expect(socket.messages).toEqual([{ type: 'connection_ack' }]);
    socket.send(subscribe('1', first.token, '{ me { email } }'));
    socket.send(subscribe('2', second.token, '{ me { email } }'));
    const answers = () => socket.messages.filter((m) => m.type === 'next');
    await until('both answers', async () => answers().length, (n) => n === 2, 5000, 20);
    expect(answers().map((m) => m.payload.data.me.email)).toEqual(['socket-race-first@kiln.test', 'socket-race-first@kiln.test']);
    await gql(s.kiln.url, 'mutation { logout }', {}, first.token);
    await until('the socket to close', async () => socket.closed(), (c) => c !== undefined, 5000, 20);
    expect(socket.closed()).toBe(4403);
  });

  it('is refused past 10 from one address while they wait for a token (4429)', async () => {
    const sockets: Array<Awaited<ReturnType<typeof tokenless>>> = [];
    let another: Awaited<ReturnType<typeof tokenless>> | undefined;
    try {
      for (let i = 0; i < 10; i++) sockets.push(await tokenless());
      const eleventh = await tokenless();
      await until('the eleventh to close', async () => eleventh.closed(), (c) => c !== undefined, 5000, 20);
      expect(eleventh.closed()).toBe(4429);
      expect(sockets.every((t) => t.closed() === undefined)).toBe(true);
      // One that authenticates no longer counts: there is room again.
      sockets[0].send(subscribe('1', await loginToken(s.kiln.url), '{ me { email } }'));
      await until('its subscription to run', async () => sockets[0].messages.length, (n) => n > 1, 5000, 20);
      another = await tokenless();
      expect(another.messages).toEqual([{ type: 'connection_ack' }]);
    } finally {
      // Closed whatever the outcome: sockets left waiting for a token would take the other tests' room.
      for (const t of [...sockets, ...(another ? [another] : [])]) t.ws.terminate();
    }
  });
});
