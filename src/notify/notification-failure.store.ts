import type { DataSource } from 'typeorm';
import { newId } from '../db/ids';
import { query } from '../db/sql';
import type { Logger } from '../logging/logger';
import type { DeliveryFailure } from './delivery-queue';

/**
 * Writes each given-up delivery to kiln_notification_failures, so every instance's metrics
 * read the same failures. Recording never throws and never holds up a queue; `close` waits for
 * the writes still in flight (before the database closes).
 */
export class NotificationFailureStore {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
  ) {}

  readonly record = (failure: DeliveryFailure): void => {
    const write: Promise<void> = query(
      this.dataSource,
      `INSERT INTO "kiln_notification_failures" ("id", "channel", "eventType", "eventId", "error") VALUES ($1, $2, $3, $4, $5)`,
      [newId(), failure.channel, failure.eventType, failure.eventId, failure.error],
    )
      .then(() => undefined)
      .catch((err) => this.logger.error({ event: 'notification_failure_not_recorded', ...failure, err }, 'could not record a failed notification'))
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  };

  /** Given-up deliveries per channel, for /metrics. */
  async countsByChannel(): Promise<Array<{ channel: string; n: number }>> {
    const rows = await query<{ channel: string; n: string | number }>(this.dataSource, `SELECT "channel", count(*) AS n FROM "kiln_notification_failures" GROUP BY "channel"`);
    return rows.map((r) => ({ channel: r.channel, n: Number(r.n) }));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
