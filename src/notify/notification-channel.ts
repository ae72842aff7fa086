import type { NotificationEvent } from './webhook-event';

/** The channels Kiln can notify on; also the `channel` column of kiln_notification_failures. */
export type ChannelName = 'webhook' | 'email' | 'slack' | 'telegram';

/** How one try of one delivery went. A `reason` is shown in logs and to admins: it never holds a secret. */
export type DeliveryResult =
  | { outcome: 'delivered'; status?: number }
  /** Worth another try: a network error, a timeout, a busy or failing receiver. */
  | { outcome: 'retry'; reason: string; status?: number; retryAfterMs?: number }
  /** Final: another try would get the same answer (a 4xx, a rejected address, bad credentials). */
  | { outcome: 'refused'; reason: string; status?: number };

export interface DeliveryAttempt {
  /** Aborted when the try's timeout passes, or when the gateway stops for good. */
  signal: AbortSignal;
  /** The try's bound, for the reason of a timeout. */
  timeoutMs: number;
}

/**
 * One way of telling people about an event (signed webhook, email, Slack, Telegram). A channel
 * only turns one event into its own message and tries to send it once; queueing, retries,
 * backoff and giving up belong to the DeliveryQueue every channel is driven by.
 */
export interface NotificationChannel {
  readonly name: ChannelName;
  /** Where messages go, for logs: a host or an address, never credentials or tokens. */
  readonly target: string;
  /** One try. Never throws: every failure is a `retry` or a `refused` with a secret-free reason. */
  deliver(event: NotificationEvent, attempt: DeliveryAttempt): Promise<DeliveryResult>;
  /** Releases connections, if the channel keeps any. */
  close?(): Promise<void>;
}
