import { setTimeout as sleep } from 'node:timers/promises';
import { KILN_VERSION } from '../config/version';
import { newId } from '../db/ids';
import type { Logger } from '../logging/logger';
import type { WebhookEvent, WebhookEventData, WebhookEventType } from './webhook-event';
import { signWebhook } from './webhook-signature';

export interface WebhookSettings {
  url: string;
  /** HMAC key of X-Kiln-Signature; never logged. */
  secret: string;
  /** Tries per delivery, the first one included. */
  attempts: number;
  /** Per try, from connecting to the answer's status line. */
  timeoutMs: number;
  /** Wait before the first retry; it doubles each retry, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs?: number;
  /** Deliveries waiting their turn; past this the oldest is dropped. */
  queueSize?: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;
const QUEUE_SIZE = 100;

interface Delivery {
  event: WebhookEvent;
  /** Serialised once: every retry sends the same bytes (only the timestamp and signature change). */
  body: string;
  log: Logger;
}

type AttemptResult =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'retry'; reason: string; status?: number; retryAfterMs?: number }
  | { outcome: 'refused'; reason: string; status: number };

/**
 * Sends signed webhook deliveries in the background, one at a time in the
 * order they were queued. `notify` never waits and never throws, so a job is
 * never slowed or failed by its receiver. Network errors, timeouts, 5xx, 408
 * and 429 are retried with exponential backoff (Retry-After honoured, capped);
 * other answers are final. The queue lives in memory: a stop abandons what
 * is still waiting, with a log line per delivery.
 */
export class WebhookNotifier {
  private readonly queue: Delivery[] = [];
  private worker?: Promise<void>;
  private closing = false;
  /** Aborted at close: no retry starts after it. */
  private readonly noMoreRetries = new AbortController();
  /** Aborted when the close grace period ends: the try in flight stops too. */
  private readonly hardStop = new AbortController();
  private readonly url: string;
  private readonly authorization?: string;
  /** The receiver's host, for logs (the URL may carry credentials in its path or query). */
  private readonly target: string;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
  ) {
    const url = new URL(settings.url);
    // fetch refuses URLs with credentials: send them as Basic auth instead.
    if (url.username || url.password) {
      this.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.url = url.toString();
    this.target = url.host;
  }

  /** Queues an event and returns its delivery id (null if it could not be queued). Never throws, never waits. */
  notify(type: WebhookEventType, data: WebhookEventData, context: { jobId?: string } = {}): string | null {
    try {
      const event: WebhookEvent = { id: newId(), type, occurredAt: new Date().toISOString(), data };
      const log = this.logger.child({ deliveryId: event.id, eventType: type, ...(context.jobId ? { jobId: context.jobId } : {}) });
      if (this.closing) {
        log.warn({ event: 'webhook_abandoned' }, 'gateway stopping: webhook not sent');
        return null;
      }
      const queueSize = this.settings.queueSize ?? QUEUE_SIZE;
      while (this.queue.length >= queueSize) {
        this.queue.shift()!.log.warn({ event: 'webhook_dropped', queueSize }, 'webhook queue full: oldest waiting delivery dropped');
      }
      this.queue.push({ event, body: JSON.stringify(event), log });
      log.debug({ event: 'webhook_queued', waiting: this.queue.length }, 'webhook queued');
      this.kick();
      return event.id;
    } catch (err) {
      this.logger.error({ event: 'webhook_not_queued', eventType: type, err }, 'could not queue a webhook');
      return null;
    }
  }

  /**
   * Stops retrying at once (waiting retries are abandoned); deliveries never
   * tried get one try within one timeout, then everything still pending is
   * abandoned. Resolves when nothing is in flight.
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
    for (let attempt = 1; ; attempt++) {
      if (this.hardStop.signal.aborted || (attempt > 1 && this.noMoreRetries.signal.aborted)) {
        delivery.log.warn({ event: 'webhook_abandoned', attempts: attempt - 1 }, 'gateway stopping: pending webhook delivery abandoned');
        return;
      }
      const result = await this.attempt(delivery);
      if (result.outcome === 'delivered') {
        delivery.log.info({ event: 'webhook_delivered', attempt, status: result.status, target: this.target }, 'webhook delivered');
        return;
      }
      const { reason, status } = result;
      if (result.outcome === 'refused') {
        delivery.log.error({ event: 'webhook_failed', attempt, status, reason, target: this.target }, 'webhook refused by the receiver: not retried');
        return;
      }
      if (attempt >= attempts) {
        delivery.log.error({ event: 'webhook_failed', attempt, status, reason, target: this.target }, 'webhook not delivered: every attempt failed');
        return;
      }
      const maxBackoffMs = this.settings.maxBackoffMs ?? MAX_BACKOFF_MS;
      const delayMs = Math.min(result.retryAfterMs ?? this.settings.backoffMs * 2 ** (attempt - 1), maxBackoffMs);
      delivery.log.warn({ event: 'webhook_retry', attempt, status, reason, delayMs, target: this.target }, 'webhook attempt failed: retrying');
      await sleep(delayMs, undefined, { signal: this.noMoreRetries.signal }).catch(() => undefined);
    }
  }

  /** One POST. A fresh timestamp (and so signature) each try, so receivers can refuse old ones. */
  private async attempt(delivery: Delivery): Promise<AttemptResult> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `Kiln-Webhook/${KILN_VERSION}`,
          'x-kiln-event': delivery.event.type,
          'x-kiln-delivery': delivery.event.id,
          'x-kiln-timestamp': timestamp,
          'x-kiln-signature': signWebhook(this.settings.secret, timestamp, delivery.body),
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        body: delivery.body,
        // A redirect is a misconfiguration: it is not followed (nor retried).
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.hardStop.signal]),
      });
      // The answer's body is not needed: release the connection.
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { outcome: 'delivered', status: res.status };
      const reason = `HTTP ${res.status}`;
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        return { outcome: 'retry', reason, status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
      }
      return { outcome: 'refused', reason, status: res.status };
    } catch (err) {
      return { outcome: 'retry', reason: failureReason(err, this.settings.timeoutMs) };
    }
  }
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (!value?.trim()) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A short reason for the log: timeout, or the network error's code (fetch hides it in `cause`). */
function failureReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  if (e?.name === 'AbortError') return 'aborted: the gateway is stopping';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
