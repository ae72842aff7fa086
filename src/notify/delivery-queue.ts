import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger';
import type { ChannelName, DeliveryResult, NotificationChannel } from './notification-channel';
import type { NotificationEvent } from './webhook-event';

export interface DeliverySettings {
  /** Tries per delivery, the first one included. */
  attempts: number;
  /** Per try, from connecting to the receiver's answer. */
  timeoutMs: number;
  /** Wait before the first retry; it doubles each retry, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs?: number;
  /** Deliveries waiting their turn; past this the oldest is dropped. */
  queueSize?: number;
}

/** A delivery given up: retries exhausted, refused, dropped from a full queue, or abandoned at a stop. */
export interface DeliveryFailure {
  channel: ChannelName;
  eventType: string;
  eventId: string;
  /** Why, without secrets. */
  error: string;
}

export interface DeliveryQueueOptions {
  /** Told of every delivery given up (e.g. to record it in the database). Must not throw. */
  onGiveUp?: (failure: DeliveryFailure) => void;
  /** The wait between tries; resolves early (or rejects) when `signal` aborts. Tests may pass their own clock. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
}

const MAX_BACKOFF_MS = 5 * 60_000;
const QUEUE_SIZE = 100;

interface Delivery {
  event: NotificationEvent;
  log: Logger;
}

/**
 * Sends one channel's messages in the background, one at a time in the order they were queued.
 * `enqueue` never waits and never throws, so a job is never slowed or failed by a receiver.
 * What a channel answers `retry` is tried again with exponential backoff (its Retry-After
 * honoured, capped); `refused` is final. The queue lives in memory: a stop abandons what is
 * still waiting. Every end is logged as `<channel>_delivered` or `<channel>_failed` /
 * `_dropped` / `_abandoned` with the event id as `deliveryId`; every loss is also reported to
 * `onGiveUp`.
 */
export class DeliveryQueue {
  private readonly queue: Delivery[] = [];
  private worker?: Promise<void>;
  private closing = false;
  /** Aborted at close: no retry starts after it. */
  private readonly noMoreRetries = new AbortController();
  /** Aborted when the close grace period ends: the try in flight stops too. */
  private readonly hardStop = new AbortController();
  private readonly logger: Logger;

  constructor(
    readonly channel: NotificationChannel,
    private readonly settings: DeliverySettings,
    logger: Logger,
    private readonly options: DeliveryQueueOptions = {},
  ) {
    this.logger = logger.child({ channel: channel.name });
  }

  /** Queues the event; false if it could not be (the gateway is stopping). Never throws, never waits. */
  enqueue(event: NotificationEvent, context: { jobId?: string } = {}): boolean {
    const name = this.channel.name;
    try {
      const log = this.logger.child({ deliveryId: event.id, eventType: event.type, ...(context.jobId ? { jobId: context.jobId } : {}) });
      if (this.closing) {
        log.warn({ event: `${name}_abandoned` }, `gateway stopping: ${name} notification not sent`);
        this.giveUp({ event, log }, 'abandoned: the gateway was stopping');
        return false;
      }
      const queueSize = this.settings.queueSize ?? QUEUE_SIZE;
      while (this.queue.length >= queueSize) {
        const dropped = this.queue.shift()!;
        dropped.log.warn({ event: `${name}_dropped`, queueSize }, `${name} queue full: oldest waiting delivery dropped`);
        this.giveUp(dropped, `dropped: more than ${queueSize} deliveries were waiting`);
      }
      this.queue.push({ event, log });
      log.debug({ event: `${name}_queued`, waiting: this.queue.length }, `${name} notification queued`);
      this.kick();
      return true;
    } catch (err) {
      this.logger.error({ event: `${name}_not_queued`, eventType: event.type, err }, `could not queue a ${name} notification`);
      return false;
    }
  }

  /**
   * Stops retrying at once (waiting retries are abandoned); deliveries never tried get one try
   * within one timeout, then everything still pending is abandoned. Resolves when nothing is in flight.
   */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.noMoreRetries.abort();
    }
    const grace = setTimeout(() => this.hardStop.abort(), this.settings.timeoutMs);
    try {
      await this.worker;
    } finally {
      clearTimeout(grace);
    }
  }

  private kick(): void {
    if (this.worker) return;
    this.worker = this.drain().finally(() => {
      this.worker = undefined;
      // A delivery queued while the loop was ending still goes out.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) await this.deliver(next);
  }

  /** All tries of one delivery; logs the outcome, never throws. */
  private async deliver(delivery: Delivery): Promise<void> {
    const { attempts } = this.settings;
    const { name, target } = this.channel;
    for (let attempt = 1; ; attempt++) {
      if (this.hardStop.signal.aborted || (attempt > 1 && this.noMoreRetries.signal.aborted)) {
        delivery.log.warn({ event: `${name}_abandoned`, attempts: attempt - 1 }, `gateway stopping: pending ${name} delivery abandoned`);
        this.giveUp(delivery, `abandoned after ${attempt - 1} attempt(s): the gateway was stopping`);
        return;
      }
      const result = await this.attempt(delivery);
      if (result.outcome === 'delivered') {
        delivery.log.info({ event: `${name}_delivered`, attempt, status: result.status, target }, `${name} notification delivered`);
        return;
      }
      const { reason, status } = result;
      if (result.outcome === 'refused') {
        delivery.log.error({ event: `${name}_failed`, attempt, status, reason, target }, `${name} notification refused by the receiver: not retried`);
        this.giveUp(delivery, `refused: ${reason}`);
        return;
      }
      if (attempt >= attempts) {
        delivery.log.error({ event: `${name}_failed`, attempt, status, reason, target }, `${name} notification not delivered: every attempt failed`);
        this.giveUp(delivery, `${attempt} attempt(s) failed, the last: ${reason}`);
        return;
      }
      const maxBackoffMs = this.settings.maxBackoffMs ?? MAX_BACKOFF_MS;
      const delayMs = Math.min(result.retryAfterMs ?? this.settings.backoffMs * 2 ** (attempt - 1), maxBackoffMs);
      delivery.log.warn({ event: `${name}_retry`, attempt, status, reason, delayMs, target }, `${name} attempt failed: retrying`);
      const wait = this.options.sleep ?? ((ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }));
      await wait(delayMs, this.noMoreRetries.signal).catch(() => undefined);
    }
  }

  private async attempt(delivery: Delivery): Promise<DeliveryResult> {
    const { timeoutMs } = this.settings;
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), this.hardStop.signal]);
    try {
      return await this.channel.deliver(delivery.event, { signal, timeoutMs });
    } catch (err) {
      // A channel should not throw; if one does, its message is not trusted to be secret-free.
      delivery.log.error({ event: `${this.channel.name}_channel_error`, errName: (err as Error)?.name }, 'notification channel threw');
      return { outcome: 'retry', reason: 'unexpected error in the channel (see the log)' };
    }
  }

  private giveUp(delivery: Delivery, error: string): void {
    try {
      this.options.onGiveUp?.({ channel: this.channel.name, eventType: delivery.event.type, eventId: delivery.event.id, error });
    } catch (err) {
      delivery.log.error({ event: 'notification_failure_not_recorded', err }, 'could not record a failed notification');
    }
  }
}
