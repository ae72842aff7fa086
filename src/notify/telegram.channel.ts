import { postJson } from './http-delivery';
import type { DeliveryAttempt, DeliveryResult, NotificationChannel } from './notification-channel';
import { formatNotification, messageText, type MessageContext } from './notification-message';
import type { NotificationEvent } from './webhook-event';

export interface TelegramChannelSettings {
  /** The bot's token: it is part of the API's URL, so neither the URL nor the token is ever logged. */
  token: string;
  chatId: string;
  /** https://api.telegram.org, or a stand-in (a local Bot API server, a test receiver). */
  apiUrl: string;
}

/** Telegram's limit on one message's text. */
const MAX_TEXT = 4096;

/** Bot API sendMessage to one chat, as plain text (no parse mode: nothing to escape). */
export class TelegramChannel implements NotificationChannel {
  readonly name = 'telegram' as const;
  readonly target: string;
  private readonly url: string;

  constructor(
    private readonly settings: TelegramChannelSettings,
    private readonly context: MessageContext,
  ) {
    const api = new URL(settings.apiUrl);
    this.target = api.host;
    this.url = `${settings.apiUrl.replace(/\/+$/, '')}/bot${settings.token}/sendMessage`;
  }

  async deliver(event: NotificationEvent, attempt: DeliveryAttempt): Promise<DeliveryResult> {
    let text = messageText(formatNotification(event, this.context));
    if (text.length > MAX_TEXT) text = `${text.slice(0, MAX_TEXT - 1)}…`;
    const body = JSON.stringify({ chat_id: this.settings.chatId, text, disable_web_page_preview: true });
    const result = await postJson({ url: this.url, body, explain: true }, attempt);
    // A network error's message may quote the URL, and so the token.
    return result.outcome === 'delivered' ? result : { ...result, reason: result.reason.split(this.settings.token).join('[token]') };
  }
}
