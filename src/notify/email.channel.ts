import { createTransport } from 'nodemailer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { DeliveryAttempt, DeliveryResult, NotificationChannel } from './notification-channel';
import { formatNotification, messageText, type MessageContext } from './notification-message';
import type { NotificationEvent } from './webhook-event';

export interface EmailChannelSettings {
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://user:pass@host:465; never logged. */
  url: string;
  to: string[];
  from: string;
}

/** One plain-text email per event through an SMTP server (a fresh connection each, so nothing idles between events). */
export class EmailChannel implements NotificationChannel {
  readonly name = 'email' as const;
  readonly target: string;
  private readonly transport: ReturnType<typeof createTransport>;

  constructor(
    private readonly settings: EmailChannelSettings,
    private readonly context: MessageContext,
    timeoutMs: number,
  ) {
    this.target = new URL(settings.url).host;
    // nodemailer logs nothing unless asked (its logs would carry the AUTH exchange).
    this.transport = createTransport({
      url: settings.url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      logger: false,
    });
  }

  async deliver(event: NotificationEvent, attempt: DeliveryAttempt): Promise<DeliveryResult> {
    const message = formatNotification(event, this.context);
    try {
      await this.transport.sendMail({
        from: this.settings.from,
        to: this.settings.to,
        subject: message.title,
        text: messageText(message),
        headers: { 'X-Kiln-Event': event.type, 'X-Kiln-Delivery': event.id },
        signal: attempt.signal,
      });
      return { outcome: 'delivered' };
    } catch (err) {
      return classify(err as NodemailerError, attempt.timeoutMs);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/**
 * An SMTP answer's class decides: 5xx (but 503) will be refused again, 4xx may pass later.
 * Errors without an answer (network, timeout, TLS) are retried. Reasons hold the server's
 * reply and nodemailer's code, never the URL or the password.
 */
function classify(err: NodemailerError, timeoutMs: number): DeliveryResult {
  if (err?.code === 'EABORT') {
    const cause = (err.cause as { name?: string } | undefined)?.name;
    return { outcome: 'retry', reason: cause === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : 'aborted: the gateway is stopping' };
  }
  if (err?.responseCode) {
    const reason = `SMTP ${err.responseCode}${err.command ? ` to ${err.command.split(' ')[0]}` : ''}: ${oneLine(err.response ?? err.message)}`;
    return err.permanent ? { outcome: 'refused', reason } : { outcome: 'retry', reason };
  }
  const reason = err?.originalCode ?? err?.code ?? 'unknown error';
  // Configuration-like failures will not pass on a retry.
  if (err?.code === 'ENOAUTH' || err?.code === 'ECONFIG' || err?.code === 'EENVELOPE') return { outcome: 'refused', reason };
  return { outcome: 'retry', reason };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}
