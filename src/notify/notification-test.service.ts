import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { newId } from '../db/ids';
import { BadUserInputError } from '../errors/kiln-errors';
import type { Logger } from '../logging/logger';
import type { ChannelName } from './notification-channel';
import type { NotificationHub } from './notification-hub';
import { NotificationChannelKind, type NotificationTestResult } from './notification-test.type';
import type { NotificationEvent } from './webhook-event';

/** What to set to configure each channel, for the answer to a test of an unconfigured one. */
const VARIABLES: Record<NotificationChannelKind, string> = {
  WEBHOOK: 'BACKUP_WEBHOOK_URL and BACKUP_WEBHOOK_SECRET',
  EMAIL: 'NOTIFY_SMTP_URL and NOTIFY_EMAIL_TO (NOTIFY_EMAIL_FROM optional)',
  SLACK: 'NOTIFY_SLACK_WEBHOOK_URL',
  TELEGRAM: 'NOTIFY_TELEGRAM_BOT_TOKEN and NOTIFY_TELEGRAM_CHAT_ID',
};

export interface NotificationTestOptions {
  /** Bounds the one try. */
  timeoutMs: number;
  /** Names the admin who asked, in the message. */
  describeUser?: (userId: string) => Promise<string | null>;
  /** Where the test is written down (an admin action, like the others). */
  audit?: AuditLogService;
}

/**
 * testNotification: one `notification.test` message on one channel, sent now, outside the
 * queues (no retry, nothing recorded as a failure), so an admin sees at once whether the
 * channel works and, if not, why.
 */
export class NotificationTestService {
  constructor(
    private readonly hub: NotificationHub,
    private readonly logger: Logger,
    private readonly options: NotificationTestOptions,
  ) {}

  async test(kind: NotificationChannelKind, caller: Identity, meta: RequestMeta): Promise<NotificationTestResult> {
    const name = kind.toLowerCase() as ChannelName;
    const channel = this.hub.channel(name);
    if (!channel) {
      throw new BadUserInputError(`The ${name} channel is not configured: set ${VARIABLES[kind]} and restart Kiln`, { channel: kind });
    }
    const requestedBy = (await this.options.describeUser?.(caller.userId).catch(() => null)) ?? caller.userId;
    const event: NotificationEvent = { id: newId(), type: 'notification.test', occurredAt: new Date().toISOString(), data: { channel: name, requestedBy } };
    const { timeoutMs } = this.options;
    const result = await channel.deliver(event, { signal: AbortSignal.timeout(timeoutMs), timeoutMs });
    const error = result.outcome === 'delivered' ? null : result.reason;
    this.logger.info(
      { event: 'notification_test', channel: name, deliveryId: event.id, userId: caller.userId, delivered: error === null, reason: error ?? undefined, target: channel.target },
      'test notification sent',
    );
    if (this.options.audit) {
      const entry = {
        actorUserId: caller.userId,
        action: 'NOTIFICATION_TESTED',
        entityName: 'NotificationChannel',
        entityId: kind,
        metadata: { delivered: error === null, error },
        ipAddress: meta.ipAddress,
        userAgent: meta.userAgent,
      };
      await this.options.audit.record(entry);
      this.options.audit.announce(entry);
    }
    return { channel: kind, delivered: error === null, error };
  }
}
