import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { JobEventBus } from '../src/jobs/job-event-bus';
import { createLogger } from '../src/logging/logger';
import { gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { eventually } from './support/until';
import { closedPort } from './support/closed-port';

const REDIS_PORT = 6379;
const PROGRESS = `subscription($id: ID) { jobProgress(jobId: $id) {
  id kind status phase table percent rowsDone etaSeconds createdAt startedAt finishedAt backup { id status } } }`;
const HEALTH = '{ backupHealth { healthy problems } }';
const REDIS_PROBLEM = 'Redis (REDIS_URL) is unreachable: job progress from other instances is not delivered';
// Unique per run: other test runs on this machine share the same Redis.
const PREFIX = `kiln-test-${process.pid}-${Date.now()}`;

/** Synchronous probe (describe blocks are chosen when the file loads): does a Redis answer PING? */
function redisAnswers(): boolean {
  const script = `const s = require('net').connect(${REDIS_PORT}, '127.0.0.1');
    s.setTimeout(10000, () => process.exit(1));
    s.on('connect', () => s.write('PING\\r\\n'));
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));
    s.on('error', () => process.exit(1));`;
  // Generous bounds: a loaded machine must not skip the file (a closed port answers at once).
  return spawnSync(process.execPath, ['-e', script], { timeout: 30_000 }).status === 0;
}

const REDIS_UP = redisAnswers();
if (!REDIS_UP) {
  console.warn(`SKIPPED: no Redis answers PING on 127.0.0.1:${REDIS_PORT}, so the cross-instance Redis tests in ${__filename} do not run`);
}
const describeWithRedis = REDIS_UP ? describe : describe.skip;

// A crash-worthy failure anywhere in the process (an unobserved Redis command, say) fails the file.
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', recordUnhandled));
afterAll(() => {
  process.off('unhandledRejection', recordUnhandled);
  expect(unhandled).toEqual([]);
});

interface Subscription {
  /** Grows as events arrive. */
  events: any[];
  /** All events, once the stream completed or `stopWhen` held. */
  done: Promise<any[]>;
  client: WsClient;
}

/** A graphql-ws jobProgress subscriber, as an admin frontend would open one. */
function subscribe(url: string, token: string, variables: Record<string, unknown>, stopWhen?: (events: any[]) => boolean): Subscription {
  const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
  const events: any[] = [];
  const done = new Promise<any[]>((resolve, reject) => {
    const stop = client.subscribe({ query: PROGRESS, variables }, {
      next: (e) => {
        if (e.errors) return reject(new Error(JSON.stringify(e.errors)));
        events.push(e.data!.jobProgress);
        if (stopWhen?.(events)) {
          stop();
          resolve(events);
        }
      },
      error: reject,
      complete: () => resolve(events),
    });
  });
  done.catch(() => undefined); // awaited by the test; no unhandled rejection meanwhile
  return { events, done, client };
}

async function healthProblems(url: string, token: string): Promise<string[]> {
  const res = await gql(url, HEALTH, {}, token);
  if (!res.data?.backupHealth) throw new Error(`backupHealth failed: ${JSON.stringify(res.errors)}`);
  return res.data.backupHealth.problems;
}

const redisReachableAt = (url: string, token: string) => async () => !(await healthProblems(url, token)).includes(REDIS_PROBLEM);

const completedFor = (jobId: string) => (events: any[]) => events.some((e) => e.id === jobId && e.status === 'COMPLETED');


/** A TCP proxy to the local Redis whose connections the test can cut (and refuse) at will. */
class RedisProxy {
  private readonly sockets = new Set<net.Socket>();
  private refusing = false;
  /** Cuts the connection that next sends a SUBSCRIBE, before Redis sees it. */
  dropNextSubscribe = false;
  private constructor(private readonly server: net.Server) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(): Promise<RedisProxy> {
    const proxy = new RedisProxy(net.createServer());
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Drops every connection and refuses new ones, like a Redis that went away. */
  cut(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(REDIS_PORT, '127.0.0.1');
    for (const [socket, other] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(socket);
      socket.on('error', () => other.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (this.dropNextSubscribe && /subscribe/i.test(chunk.toString('latin1'))) {
        this.dropNextSubscribe = false;
        client.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
  }
}

/** Instance A (seeded) and B on one database, both linked to Redis before the tests start. */
async function startPair(env: Record<string, string>): Promise<{ a: SeededKiln; b: TestKiln; tokenB: string }> {
  const a = await startSeededKiln(300, env);
  const b = await startTestKiln(env, a.kiln.databaseUrl);
  const tokenB = await loginToken(b.url);
  await eventually('Redis on A', redisReachableAt(a.kiln.url, a.token));
  await eventually('Redis on B', redisReachableAt(b.url, tokenB));
  return { a, b, tokenB };
}

describeWithRedis('job events across instances through Redis', () => {
  const env = { REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`, REDIS_CHANNEL_PREFIX: `${PREFIX}-pair` };
  let a: SeededKiln;
  let b: TestKiln;
  let tokenB: string;

  beforeAll(async () => {
    ({ a, b, tokenB } = await startPair(env));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a jobProgress(jobId) subscriber on B follows a backup started on A to its one final event', async () => {
    let onB: Subscription | undefined;
    try {
      const { jobId, backupId } = await whileTableLocked(a, async () => {
        const started = await startBackup(a);
        onB = subscribe(b.url, tokenB, { id: started.jobId });
        // The backup waits on the lock, still RUNNING: a live event must reach B through Redis
        // (the first event is B's own read of the database).
        await eventually('a live RUNNING event on B', () => onB!.events.length >= 2);
        return started;
      });
      const events = await onB!.done;
      expect(events.every((e) => e.id === jobId)).toBe(true);
      expect(events.filter((e) => e.status === 'RUNNING').length).toBeGreaterThanOrEqual(2);
      expect(events.filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
      const final = events.at(-1);
      expect(final).toMatchObject({ status: 'COMPLETED', percent: 100, backup: { id: backupId, status: 'COMPLETED' } });
      // Dates came through JSON: B serialises them exactly as A's database row reads.
      await a.kiln.services.jobs.settled(jobId);
      const row = (await gql(a.kiln.url, 'query($id: ID!) { job(id: $id) { status createdAt startedAt finishedAt } }', { id: jobId }, a.token)).data!.job;
      expect(row.status).toBe('COMPLETED');
      expect({ createdAt: final.createdAt, startedAt: final.startedAt, finishedAt: final.finishedAt }).toEqual({
        createdAt: row.createdAt,
        startedAt: row.startedAt,
        finishedAt: row.finishedAt,
      });
      expect(row.finishedAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/));
    } finally {
      await onB?.client.dispose();
    }
  });

  it('the all-jobs stream on B gets every event of A exactly once, as A does', async () => {
    const onA = subscribe(a.kiln.url, a.token, {});
    const onB = subscribe(b.url, tokenB, {});
    try {
      // Both streams are live once a probe job's events reach them: held by a lock, it sends one at least every second.
      const probe = await whileTableLocked(a, async () => {
        const started = await startBackup(a);
        await eventually('both streams live', () => onA.events.some((e) => e.id === started.jobId) && onB.events.some((e) => e.id === started.jobId));
        return started;
      });
      await a.kiln.services.jobs.settled(probe.jobId);
      const first = (await startBackup(a)).jobId;
      await a.kiln.services.jobs.settled(first);
      // A second job after the first: a late duplicate of the first one's events would show before its end.
      const second = (await startBackup(a)).jobId;
      const bothCompleted = (events: any[]) => completedFor(first)(events) && completedFor(second)(events);
      await eventually('both jobs\' ends on A and on B', () => bothCompleted(onA.events) && bothCompleted(onB.events));
      const [eventsA, eventsB] = [[...onA.events], [...onB.events]];
      const of = (events: any[], id: string) => events.filter((e) => e.id === id);
      for (const id of [first, second]) {
        expect(of(eventsA, id).filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
        expect(of(eventsB, id).filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
        expect(of(eventsA, id).length).toBeGreaterThanOrEqual(2);
        // Same events, same order, same serialisation (dates included) on both instances.
        expect(of(eventsB, id)).toEqual(of(eventsA, id));
      }
    } finally {
      await onA.client.dispose();
      await onB.client.dispose();
    }
  });
});

describeWithRedis('JobEventBus over Redis', () => {
  it('delivers another instance\'s job with its dates revived, and never echoes an instance\'s own events', async () => {
    const settings = { url: `redis://127.0.0.1:${REDIS_PORT}`, channelPrefix: `${PREFIX}-bus` };
    const logger = createLogger('silent');
    const [one, two] = await Promise.all([JobEventBus.connect('one', logger, settings), JobEventBus.connect('two', logger, settings)]);
    try {
      expect([one.redisReachable(), two.redisReachable()]).toEqual([true, true]);
      const onOne = one.subscribe()[Symbol.asyncIterator]();
      const onTwo = two.subscribe()[Symbol.asyncIterator]();
      // The in-process stream starts listening at its first next().
      const firstOne = onOne.next();
      const firstTwo = onTwo.next();
      const createdAt = new Date('2026-01-02T03:04:05.678Z');
      one.publish({ id: 'job-a', status: 'RUNNING', percent: 10, createdAt, startedAt: createdAt, finishedAt: null } as any);
      two.publish({ id: 'job-b', status: 'RUNNING', percent: 20, createdAt, startedAt: null, finishedAt: null } as any);
      // Each sees its own event (locally) and the other's (through Redis), once: order across the two is free.
      const seenByOne = [(await firstOne).value, (await onOne.next()).value];
      const seenByTwo = [(await firstTwo).value, (await onTwo.next()).value];
      expect(seenByOne.map((j) => j.id).sort()).toEqual(['job-a', 'job-b']);
      expect(seenByTwo.map((j) => j.id).sort()).toEqual(['job-a', 'job-b']);
      const remote = seenByTwo.find((j) => j.id === 'job-a');
      expect(remote.createdAt).toBeInstanceOf(Date);
      expect(remote.createdAt.toISOString()).toBe(createdAt.toISOString());
      expect(remote.startedAt).toBeInstanceOf(Date);
      expect(remote.finishedAt).toBeNull();
      // Redis hands a subscriber messages in the order it took the publishes: an echo of an
      // instance's own earlier event would come before the other's next one.
      two.publish({ id: 'job-c', status: 'COMPLETED', percent: 100, createdAt } as any);
      expect((await onTwo.next()).value.id).toBe('job-c');
      expect((await onOne.next()).value.id).toBe('job-c');
      one.publish({ id: 'job-d', status: 'COMPLETED', percent: 100, createdAt } as any);
      expect((await onOne.next()).value.id).toBe('job-d');
      expect((await onTwo.next()).value.id).toBe('job-d');
      await onOne.return?.();
      await onTwo.return?.();
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('subscribes again when the connection drops before Redis confirmed the subscription', async () => {
    const proxy = await RedisProxy.start();
    proxy.dropNextSubscribe = true;
    const settings = { url: proxy.url, channelPrefix: `${PREFIX}-resubscribe` };
    const logger = createLogger('silent');
    const [one, two] = await Promise.all([JobEventBus.connect('one', logger, settings), JobEventBus.connect('two', logger, settings)]);
    try {
      await eventually('both subscribed', () => one.redisReachable() === true && two.redisReachable() === true);
      expect(proxy.dropNextSubscribe).toBe(false);
      const onTwo = two.subscribe()[Symbol.asyncIterator]();
      const next = onTwo.next();
      one.publish({ id: 'job-after-retry', status: 'RUNNING', createdAt: new Date() } as any);
      expect((await next).value.id).toBe('job-after-retry');
      await onTwo.return?.();
    } finally {
      await Promise.all([one.close(), two.close()]);
      await proxy.close();
    }
  });
});

describe('Redis unreachable at start', () => {
  it('logs one clear warning without the password and keeps retrying quietly', async () => {
    const lines: any[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    const url = `redis://:hunter2-secret-pass@127.0.0.1:${await closedPort()}`;
    const bus = await JobEventBus.connect('instance-x', createLogger('debug', sink), { url, channelPrefix: `${PREFIX}-closed` });
    try {
      expect(bus.redisReachable()).toBe(false);
      // Never throws and never buffers: the event still reaches local subscribers.
      const events = bus.subscribe()[Symbol.asyncIterator]();
      const next = events.next();
      bus.publish({ id: 'job-1', status: 'RUNNING' } as any);
      expect((await next).value).toMatchObject({ id: 'job-1' });
      await events.return?.();
      await eventually('a retry or two', () => lines.length >= 2, 10_000);
    } finally {
      await bus.close();
    }
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hunter2');
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.msg)).toEqual(
      expect.arrayContaining([expect.stringContaining('Redis (REDIS_URL) is unreachable')]),
    );
    // One line per outage, not one per reconnect attempt.
    expect(warnings.filter((l) => l.msg.includes('is unreachable'))).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ redis: expect.stringMatching(/^redis:\/\/127\.0\.0\.1:\d+$/) });
  });

  it('the gateway starts, a backup completes, a local subscriber sees it, backupHealth names Redis', async () => {
    const s = await startSeededKiln(50, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, REDIS_CHANNEL_PREFIX: `${PREFIX}-down` });
    let local: Subscription | undefined;
    try {
      expect(await healthProblems(s.kiln.url, s.token)).toContain(REDIS_PROBLEM);
      // This instance's own link: not part of the state instances share (the webhook watcher's).
      expect((await s.kiln.services.health.health('shared')).problems).not.toContain(REDIS_PROBLEM);
      const { jobId } = await whileTableLocked(s, async () => {
        const started = await startBackup(s);
        local = subscribe(s.kiln.url, s.token, { id: started.jobId });
        await eventually('a live local event', () => local!.events.length >= 2);
        return started;
      });
      const events = await local!.done;
      expect(events.at(-1)).toMatchObject({ id: jobId, status: 'COMPLETED', percent: 100 });
      expect(events.filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
      expect((await finishedJob(s, jobId)).status).toBe('COMPLETED');
    } finally {
      await local?.client.dispose();
      await s.close();
    }
  });
});

describeWithRedis('Redis lost mid-run and back', () => {
  let proxy: RedisProxy;
  let a: SeededKiln;
  let b: TestKiln;
  let tokenB: string;

  beforeAll(async () => {
    proxy = await RedisProxy.start();
    ({ a, b, tokenB } = await startPair({ REDIS_URL: proxy.url, REDIS_CHANNEL_PREFIX: `${PREFIX}-proxy` }));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await proxy?.close();
  });

  it('a running backup completes and its local subscriber sees the end; B follows again once Redis is back', async () => {
    let local: Subscription | undefined;
    let remote: Subscription | undefined;
    try {
      const { jobId } = await whileTableLocked(a, async () => {
        const started = await startBackup(a);
        local = subscribe(a.kiln.url, a.token, { id: started.jobId });
        await eventually('a first event', () => local!.events.length >= 1);
        proxy.cut();
        await eventually('A to notice Redis is gone', async () => (await healthProblems(a.kiln.url, a.token)).includes(REDIS_PROBLEM));
        // A few progress events are published (and dropped) while Redis is away.
        await eventually('more local events', () => local!.events.length >= 3);
        return started;
      });
      const events = await local!.done;
      expect(events.at(-1)).toMatchObject({ id: jobId, status: 'COMPLETED', percent: 100 });
      expect(events.filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
      expect((await finishedJob(a, jobId)).status).toBe('COMPLETED');
      expect((await gql(a.kiln.url, '{ me { email } }', {}, a.token)).data).toEqual({ me: { email: 'root@kiln.test' } });

      proxy.restore();
      await eventually('Redis back on A', redisReachableAt(a.kiln.url, a.token));
      await eventually('Redis back on B', redisReachableAt(b.url, tokenB));
      const later = await whileTableLocked(a, async () => {
        const started = await startBackup(a);
        remote = subscribe(b.url, tokenB, { id: started.jobId });
        await eventually('a live event on B through Redis', () => remote!.events.length >= 2);
        return started;
      });
      const seen = await remote!.done;
      expect(seen.at(-1)).toMatchObject({ id: later.jobId, status: 'COMPLETED', percent: 100 });
      expect(seen.filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
    } finally {
      await local?.client.dispose();
      await remote?.client.dispose();
    }
  });
});

describe('settings shared through the database', () => {
  const SET = 'mutation($on: Boolean!, $r: String) { setMaintenanceMode(enabled: $on, reason: $r) { enabled } }';
  const SCHEDULE = '{ backupSchedule { frequency timezone cron } }';
  const UPDATE = 'mutation($i: BackupScheduleInput!) { updateBackupSchedule(input: $i) { frequency timezone cron } }';
  let a: TestKiln;
  let b: TestKiln;
  let tokenA: string;
  let tokenB: string;

  beforeAll(async () => {
    const env: Record<string, string> = REDIS_UP ? { REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`, REDIS_CHANNEL_PREFIX: `${PREFIX}-settings` } : {};
    a = await startTestKiln(env);
    b = await startTestKiln(env, a.databaseUrl);
    [tokenA, tokenB] = await Promise.all([loginToken(a.url), loginToken(b.url)]);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('maintenance mode set on A is seen by B within seconds', async () => {
    expect((await gql(a.url, SET, { on: true, r: 'restore drill' }, tokenA)).errors).toBeUndefined();
    await eventually('GET /maintenance on B', async () => ((await (await fetch(`${b.url}/maintenance`)).json()) as any).enabled === true, 5000);
    expect(await (await fetch(`${b.url}/maintenance`)).json()).toMatchObject({ enabled: true, reason: 'restore drill' });
    const onB = await gql(b.url, '{ maintenanceMode { enabled reason } }', {}, tokenB);
    expect(onB.data!.maintenanceMode).toEqual({ enabled: true, reason: 'restore drill' });

    expect((await gql(a.url, SET, { on: false }, tokenA)).errors).toBeUndefined();
    await eventually('maintenance off on B', async () => ((await (await fetch(`${b.url}/maintenance`)).json()) as any).enabled === false, 5000);
  });

  it('a schedule updated on A is read back on B within seconds', async () => {
    const res = await gql(a.url, UPDATE, { i: { frequency: 'WEEKLY', timezone: 'Europe/Berlin' } }, tokenA);
    expect(res.errors).toBeUndefined();
    const wanted = { frequency: 'WEEKLY', timezone: 'Europe/Berlin', cron: res.data!.updateBackupSchedule.cron };
    let seen: unknown;
    await eventually('the schedule on B', async () => {
      seen = (await gql(b.url, SCHEDULE, {}, tokenB)).data?.backupSchedule;
      return JSON.stringify(seen) === JSON.stringify(wanted);
    }, 5000);
    expect(seen).toEqual(wanted);
  });
});
