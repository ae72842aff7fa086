import { newId } from '../db/ids';
import type { Logger } from '../logging/logger';
import { DeliveryQueue, type DeliveryQueueOptions, type DeliverySettings } from './delivery-queue';
import type { ChannelName, NotificationChannel } from './notification-channel';
import type { NotificationEvent, NotificationEventMap, NotificationEventType } from './webhook-event';

/**
 * The one place events are sent from: `notify` makes the event once (one id, one time) and
 * queues it on every configured channel, each with its own DeliveryQueue, so a slow or failing
 * channel never delays another. With no channel, `notify` does nothing.
 */
export class NotificationHub {
  private readonly queues: DeliveryQueue[];

  constructor(channels: NotificationChannel[], settings: DeliverySettings, logger: Logger, options: DeliveryQueueOptions = {}) {
    this.queues = channels.map((channel) => new DeliveryQueue(channel, settings, logger, options));
  }

  /** The configured channels' names, in the order they were given. */
  get channels(): ChannelName[] {
    return this.queues.map((q) => q.channel.name);
  }

  /** The channel of that name, if configured (for testNotification's single try). */
  channel(name: ChannelName): NotificationChannel | undefined {
    return this.queues.find((q) => q.channel.name === name)?.channel;
  }

  /**
   * Queues an event on every channel and returns its id (the same on every channel and every
   * retry), or null if no channel took it. Never throws, never waits.
   */
  notify<T extends NotificationEventType>(type: T, data: NotificationEventMap[T], context: { jobId?: string } = {}): string | null {
    if (this.queues.length === 0) return null;
    const event = { id: newId(), type, occurredAt: new Date().toISOString(), data } as NotificationEvent;
    let queued = false;
    for (const queue of this.queues) queued = queue.enqueue(event, context) || queued;
    return queued ? event.id : null;
  }

  /** Closes every channel's queue (see DeliveryQueue.close), at once, then the channels' connections. */
  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
    await Promise.all(this.queues.map((q) => q.channel.close?.()));
  }
}
