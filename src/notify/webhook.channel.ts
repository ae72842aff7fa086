import { KILN_VERSION } from '../config/version';
import { postJson } from './http-delivery';
import type { DeliveryAttempt, DeliveryResult, NotificationChannel } from './notification-channel';
import type { NotificationEvent } from './webhook-event';
import { signWebhook } from './webhook-signature';

export interface WebhookChannelSettings {
  url: string;
  /** HMAC key of X-Kiln-Signature; never logged. */
  secret: string;
}

/**
 * Signed JSON deliveries (BACKUP_WEBHOOK_URL): the event as is, the same bytes on every try,
 * with a fresh timestamp (and so signature) each try so receivers can refuse old ones.
 */
export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook' as const;
  readonly target: string;
  private readonly url: string;
  private readonly authorization?: string;
  /** Serialised once per event: every retry sends the same body. */
  private readonly bodies = new WeakMap<NotificationEvent, string>();

  constructor(private readonly settings: WebhookChannelSettings) {
    const url = new URL(settings.url);
    // fetch refuses URLs with credentials: send them as Basic auth instead.
    if (url.username || url.password) {
      this.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.url = url.toString();
    // The receiver's host, for logs (the URL may carry credentials in its path or query).
    this.target = url.host;
  }

  deliver(event: NotificationEvent, attempt: DeliveryAttempt): Promise<DeliveryResult> {
    let body = this.bodies.get(event);
    if (body === undefined) this.bodies.set(event, (body = JSON.stringify(event)));
    const timestamp = String(Math.floor(Date.now() / 1000));
    return postJson(
      {
        url: this.url,
        headers: {
          'user-agent': `Kiln-Webhook/${KILN_VERSION}`,
          'x-kiln-event': event.type,
          'x-kiln-delivery': event.id,
          'x-kiln-timestamp': timestamp,
          'x-kiln-signature': signWebhook(this.settings.secret, timestamp, body),
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        body,
      },
      attempt,
    );
  }
}
