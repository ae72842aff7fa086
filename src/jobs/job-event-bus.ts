import { setMaxListeners } from 'node:events';
import { Repeater, SlidingBuffer } from '@graphql-yoga/subscription';
import type { Logger } from '../logging/logger';
import { createJobPubSub, JOB_CHANGED, type JobPubSub } from './job-events';
import type { Job } from './job.entity';
import type { RedisJobRelay, RedisRelaySettings } from './redis-job-relay';

/**
 * Events a subscriber may fall behind by; past that its oldest are dropped (the
 * job row stays the truth, and a job's final event is always the newest).
 */
const SUBSCRIBER_BUFFER = 256;

/** How long a start waits for Redis before going on without it. */
const REDIS_START_WAIT_MS = 5000;

/**
 * Where job changes go. Subscribers on this instance always get them in-process (never through
 * Redis, so they keep working while Redis is away); with REDIS_URL they also travel to the other
 * instances, and theirs arrive here.
 */
export class JobEventBus {
  private readonly target = new EventTarget();
  private readonly local: JobPubSub = createJobPubSub(this.target);
  private readonly relay?: RedisJobRelay;

  constructor(instanceId: string, logger: Logger, redis?: RedisRelaySettings) {
    // Each subscriber is a listener of the target, so the eleventh made Node warn of a leak
    // (MaxListenersExceededWarning). There is none: the socket limits bound their number.
    setMaxListeners(0, this.target);
    if (redis) {
      // Loaded only when REDIS_URL is set (ioredis is large).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RedisJobRelay: Relay } = require('./redis-job-relay') as { RedisJobRelay: typeof RedisJobRelay };
      this.relay = new Relay(redis, instanceId, (job) => this.deliverLocally(job), logger);
    }
  }

  /** A bus whose Redis link (if any) had its first chance to connect; a start never fails on Redis. */
  static async connect(instanceId: string, logger: Logger, redis?: RedisRelaySettings): Promise<JobEventBus> {
    const bus = new JobEventBus(instanceId, logger, redis);
    await bus.relay?.firstConnection(REDIS_START_WAIT_MS);
    return bus;
  }

  /** The in-process pub/sub, for type-graphql's buildSchema. */
  get pubSub(): JobPubSub {
    return this.local;
  }

  publish(job: Job): void {
    this.deliverLocally(job);
    this.relay?.publish(job);
  }

  /** Every job change seen by this instance: its own and, with Redis, the other instances'. */
  subscribe(): AsyncIterable<Job> {
    // A buffer of its own per subscriber: without one, a client that stops reading overflows the
    // repeater (1024 pending pushes), which throws inside the event dispatch and takes the process down.
    return new Repeater<Job>((push, stop) => {
      const listener = (event: Event) => void push((event as CustomEvent<Job>).detail).catch(() => undefined);
      this.target.addEventListener(JOB_CHANGED, listener);
      void stop.then(() => this.target.removeEventListener(JOB_CHANGED, listener));
    }, new SlidingBuffer(SUBSCRIBER_BUFFER));
  }

  /** Whether Redis can be reached now; undefined when REDIS_URL is not set. */
  redisReachable(): boolean | undefined {
    return this.relay?.reachable();
  }

  async close(): Promise<void> {
    await this.relay?.close();
  }

  private deliverLocally(job: Job): void {
    // A copy per event: the job object keeps changing after it was published.
    this.local.publish(JOB_CHANGED, { ...job } as Job);
  }
}
