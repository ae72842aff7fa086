import { RedisPubSub } from 'graphql-redis-subscriptions';
import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from '../logging/logger';
import type { Job } from './job.entity';

export interface RedisRelaySettings {
  url: string;
  /** Keeps deployments (or test runs) that share one Redis apart. */
  channelPrefix: string;
}

/** One job change on the wire; `origin` lets an instance skip the events it sent itself. */
interface JobMessage {
  origin: string;
  job: Job;
}

/** Job fields that are Dates: JSON turns them into strings, GraphQL's DateTimeISO wants Dates back. */
const JOB_DATE_FIELDS = new Set(['createdAt', 'startedAt', 'finishedAt', 'heartbeatAt']);
/** Publishes awaiting Redis's answer; past this (a stalled server), events are dropped, not piled up. */
const MAX_PENDING_PUBLISHES = 500;
const RECONNECT_CAP_MS = 5000;
const CLOSE_WAIT_MS = 2000;

/**
 * Carries job changes between gateway instances over Redis pub/sub. Redis is a courtesy here:
 * nothing waits for it, nothing queues while it is away (events are dropped), every failure is
 * logged once per outage and never thrown, and both connections retry in the background, so
 * cross-instance delivery resumes by itself when Redis is back.
 */
export class RedisJobRelay {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly pubSub: RedisPubSub;
  private readonly channel: string;
  private readonly log: Logger;
  /** RedisPubSub's id of our listener, once a first SUBSCRIBE has succeeded. */
  private listenerId: number | null = null;
  private subscribed = false;
  /** An outage has been logged and not yet followed by a recovery. */
  private outageLogged = false;
  private dropLogged = false;
  private pendingPublishes = 0;
  private closing = false;
  private firstAttempt?: () => void;

  constructor(
    settings: RedisRelaySettings,
    private readonly instanceId: string,
    private readonly onRemoteJob: (job: Job) => void,
    logger: Logger,
  ) {
    this.channel = `${settings.channelPrefix}:job-changed`;
    this.log = logger.child({ component: 'redis-job-events', redis: redactedUrl(settings.url), channel: this.channel });
    const options: RedisOptions = {
      // Fail at once while disconnected instead of buffering without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // We subscribe again ourselves on each 'ready', where a failure can be caught (ioredis's own
      // resubscribe leaves its promise unobserved).
      autoResubscribe: false,
      retryStrategy: (attempt) => Math.min(attempt * 500, RECONNECT_CAP_MS),
    };
    this.publisher = new Redis(settings.url, options);
    this.subscriber = new Redis(settings.url, options);
    this.pubSub = new RedisPubSub({ publisher: this.publisher, subscriber: this.subscriber, reviver: reviveJobDates });
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (err: Error) => this.outage(err.message));
      client.on('close', () => {
        if (client === this.subscriber) this.subscribed = false;
        this.outage('connection closed');
      });
      client.on('ready', () => (client === this.subscriber ? this.subscribe() : this.recovered()));
    }
  }

  /** Resolves once Redis is subscribed to, or failed a first time, or after `timeoutMs`: a start never hangs on Redis. */
  firstConnection(timeoutMs: number): Promise<void> {
    if (this.reachable() || this.outageLogged) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.firstAttempt = done;
    });
  }

  /** Both connections are up and the channel is subscribed. */
  reachable(): boolean {
    return this.publisher.status === 'ready' && this.subscribed;
  }

  /** Sends the job to the other instances, or drops it when Redis is away; never throws. */
  publish(job: Job): void {
    if (this.closing) return;
    if (this.publisher.status !== 'ready' || this.pendingPublishes >= MAX_PENDING_PUBLISHES) {
      this.dropped(this.publisher.status !== 'ready' ? 'not connected' : 'Redis is not answering');
      return;
    }
    this.pendingPublishes++;
    const message: JobMessage = { origin: this.instanceId, job };
    this.pubSub
      .publish(this.channel, message)
      .catch((err: unknown) => this.dropped(err instanceof Error ? err.message : String(err)))
      .finally(() => this.pendingPublishes--);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.firstAttempt?.();
    await Promise.all([this.publisher, this.subscriber].map(disconnect));
  }

  private subscribe(): void {
    const confirmed = () => {
      this.subscribed = true;
      this.recovered();
    };
    const failed = (err: unknown) => this.outage(`subscribe failed: ${err instanceof Error ? err.message : String(err)}`);
    if (this.listenerId !== null) {
      this.subscriber.subscribe(this.channel).then(confirmed, failed);
      return;
    }
    const listener = this.pubSub.subscribe(this.channel, (message: unknown) => this.receive(message));
    // RedisPubSub keeps a second promise of a pending SUBSCRIBE that nobody observes, unless another
    // subscription joins it: without this one, a connection lost before Redis answers would be an
    // unhandled rejection.
    const joined = this.pubSub.subscribe(this.channel, () => undefined);
    Promise.all([listener, joined]).then(([id, joinedId]) => {
      this.listenerId = id;
      this.pubSub.unsubscribe(joinedId);
      confirmed();
    }, failed);
  }

  private receive(message: unknown): void {
    const m = message as Partial<JobMessage> | null;
    if (!m || typeof m !== 'object' || typeof m.origin !== 'string' || typeof m.job?.id !== 'string') {
      this.log.debug('ignored a message that is not a job event');
      return;
    }
    // Our own events were delivered locally already.
    if (m.origin === this.instanceId) return;
    this.onRemoteJob(m.job);
  }

  private outage(reason: string): void {
    if (this.closing) return;
    this.firstAttempt?.();
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.log.warn(
      { reason },
      'Redis (REDIS_URL) is unreachable: job progress from other instances is not delivered, local subscribers are unaffected; retrying in the background',
    );
  }

  private recovered(): void {
    if (!this.reachable()) return;
    this.firstAttempt?.();
    if (this.outageLogged) this.log.info('Redis is reachable again: job events travel between instances');
    else this.log.info('Redis connected: job events travel between instances');
    this.outageLogged = false;
    this.dropLogged = false;
  }

  private dropped(reason: string): void {
    if (this.closing || this.dropLogged) return;
    this.dropLogged = true;
    this.log.warn({ reason }, 'job events are not reaching Redis: other instances miss them until it is back (dropped, not queued)');
  }
}

function reviveJobDates(key: string, value: unknown): unknown {
  return JOB_DATE_FIELDS.has(key) && typeof value === 'string' ? new Date(value) : value;
}

/** The URL without user name or password, for logs. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/** Closes a connection at once (no reconnect) and waits, bounded, until its socket is gone. */
async function disconnect(client: Redis): Promise<void> {
  // 'reconnecting': the socket is already closed; disconnect() only cancels the retry timer.
  const socketOpen = client.status !== 'end' && client.status !== 'reconnecting';
  const ended = socketOpen ? new Promise<void>((resolve) => client.once('end', () => resolve())) : Promise.resolve();
  client.disconnect();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
  clearTimeout(timer);
}
