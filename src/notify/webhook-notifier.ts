import type { Logger } from '../logging/logger';
import type { DeliverySettings } from './delivery-queue';
import { NotificationHub } from './notification-hub';
import { WebhookChannel, type WebhookChannelSettings } from './webhook.channel';

export type WebhookSettings = WebhookChannelSettings & DeliverySettings;

/** A hub with the signed webhook as its only channel (BACKUP_WEBHOOK_* alone). */
export class WebhookNotifier extends NotificationHub {
  constructor(settings: WebhookSettings, logger: Logger) {
    super([new WebhookChannel(settings)], settings, logger);
  }
}
