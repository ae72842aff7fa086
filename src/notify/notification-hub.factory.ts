import type { KilnConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import type { DeliveryQueueOptions } from './delivery-queue';
import type { EmailChannel } from './email.channel';
import type { NotificationChannel } from './notification-channel';
import { NotificationHub } from './notification-hub';
import { SlackChannel } from './slack.channel';
import { TelegramChannel } from './telegram.channel';
import { WebhookChannel } from './webhook.channel';

/** The channels the configuration sets up, webhook first. */
export function configuredChannels(config: Pick<KilnConfig, 'webhook' | 'notify'>): NotificationChannel[] {
  const { notify } = config;
  const context = { host: notify.host, consoleUrl: notify.consoleUrl };
  const channels: NotificationChannel[] = [];
  if (config.webhook) channels.push(new WebhookChannel(config.webhook));
  if (notify.email) {
    // Loaded only when e-mail is configured (nodemailer is large).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { EmailChannel: Channel } = require('./email.channel') as { EmailChannel: typeof EmailChannel };
    channels.push(new Channel(notify.email, context, notify.delivery.timeoutMs));
  }
  if (notify.slack) channels.push(new SlackChannel(notify.slack, context));
  if (notify.telegram) channels.push(new TelegramChannel(notify.telegram, context));
  return channels;
}

/** The gateway's one hub; with nothing configured it has no channel and `notify` does nothing. */
export function createNotificationHub(config: Pick<KilnConfig, 'webhook' | 'notify'>, logger: Logger, options: DeliveryQueueOptions = {}): NotificationHub {
  return new NotificationHub(configuredChannels(config), config.notify.delivery, logger.child({ component: 'notify' }), options);
}
