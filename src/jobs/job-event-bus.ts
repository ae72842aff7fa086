import type { Logger } from '../logging/logger';
import { createJobPubSub, JOB_CHANGED, type JobPubSub } from './job-events';
import type { Job } from './job.entity';
import { RedisJobRelay, type RedisRelaySettings } from './redis-job-relay';

/** How long a start waits for Redis before going on without it. */
const REDIS_START_WAIT_MS = 5000;

/**
 * Where job changes go. Subscribers on this instance always get them in-process (never through
 * Redis, so they keep working while Redis is away); with REDIS_URL they also travel to the other
 * instances, and theirs arrive here.
 */
export class JobEventBus {
  private readonly local: JobPubSub = createJobPubSub();
  private readonly relay?: RedisJobRelay;

  constructor(instanceId: string, logger: Logger, redis?: RedisRelaySettings) {
    if (redis) this.relay = new RedisJobRelay(redis, instanceId, (job) => this.deliverLocally(job), logger);
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
    return this.local.subscribe(JOB_CHANGED);
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
