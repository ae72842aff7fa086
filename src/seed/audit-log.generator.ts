/**
 * AuditLog rows, written next to the change they describe so the trail and the data
 * agree. The actor's IP and browser come from the actor's own, as the gateway logs them.
 */
import { ts } from './calendar-money.util';
import type { SeedContext, Staff } from './seed.context';
import type { Rng } from './seeded-random.util';

/** `actor` null is the system itself (the bootstrap admin's own account). */
export function writeAudit(
  ctx: SeedContext, actor: Staff | null, action: string, entityName: string, entityId: string,
  before: unknown, after: unknown, metadata: unknown, ms: number, r: Rng,
): void {
  const t = ctx.tables.AuditLog;
  t.add([
    t.id(ms),
    actor?.id ?? null,
    action,
    entityName,
    entityId,
    before === null ? null : JSON.stringify(before),
    after === null ? null : JSON.stringify(after),
    metadata === null ? null : JSON.stringify(metadata),
    actor ? r.pick(actor.ips) : null,
    actor ? actor.userAgent : null,
    ts(ms),
  ]);
}
