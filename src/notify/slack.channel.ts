import { postJson } from './http-delivery';
import type { DeliveryAttempt, DeliveryResult, NotificationChannel } from './notification-channel';
import { formatNotification, messageText, type MessageContext, type NotificationMessage } from './notification-message';
import type { NotificationEvent } from './webhook-event';

export interface SlackChannelSettings {
  /** The incoming webhook's URL: its path is the secret, so it is never logged. */
  url: string;
}

/**
 * Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat, Discord's /slack
 * endpoint): `text` for every client and notification previews, `blocks` for Slack's layout.
 */
export class SlackChannel implements NotificationChannel {
  readonly name = 'slack' as const;
  readonly target: string;

  constructor(
    private readonly settings: SlackChannelSettings,
    private readonly context: MessageContext,
  ) {
    this.target = new URL(settings.url).host;
  }

  deliver(event: NotificationEvent, attempt: DeliveryAttempt): Promise<DeliveryResult> {
    const message = formatNotification(event, this.context);
    return postJson({ url: this.settings.url, body: JSON.stringify(slackPayload(message)), explain: true }, attempt);
  }
}

/** The message as Slack wants it; exported for the formatter's tests. */
export function slackPayload(message: NotificationMessage): { text: string; blocks: unknown[] } {
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: limit(message.title, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: limit(message.lines.map(escape).join('\n'), 3000) } },
  ];
  if (message.advice.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: limit(['*What to do*', ...message.advice.map((a) => `• ${escape(a)}`)].join('\n'), 3000) } });
  }
  return { text: escape(messageText(message)), blocks };
}

/** Slack reads &, < and > as markup. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function limit(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}
