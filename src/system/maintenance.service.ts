import type { DataSource } from 'typeorm';
import type { AuditLogService } from '../audit/audit-log.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { BadUserInputError, MaintenanceRequiredError } from '../errors/kiln-errors';
import { MaintenanceState } from './maintenance-state.entity';

const ROW_ID = 'default';
const MAX_REASON_LENGTH = 500;

/** Maintenance mode, read from the database every time so all instances agree. */
export class MaintenanceService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLogService,
  ) {}

  async get(): Promise<MaintenanceState> {
    const row = await this.dataSource.getRepository(MaintenanceState).findOneBy({ id: ROW_ID });
    return row ?? Object.assign(new MaintenanceState(), { id: ROW_ID, enabled: false, reason: null, since: null, enabledById: null });
  }

  /** `actor` null: `kiln file restore`, run by nobody signed in. */
  async set(enabled: boolean, reason: string | null | undefined, actor: Identity | null, meta: RequestMeta): Promise<MaintenanceState> {
    const trimmed = reason?.trim() || null;
    if (trimmed && trimmed.length > MAX_REASON_LENGTH) {
      throw new BadUserInputError(`reason must be at most ${MAX_REASON_LENGTH} characters`);
    }
    const { state, entry } = await this.dataSource.transaction(async (tx) => {
      const repo = tx.getRepository(MaintenanceState);
      const before = await repo.findOne({ where: { id: ROW_ID }, lock: { mode: 'pessimistic_write' } });
      // Turning it on again keeps the original `since`; only the reason is updated.
      const since = enabled ? (before?.enabled ? before.since : new Date()) : null;
      const next = {
        id: ROW_ID,
        enabled,
        reason: enabled ? trimmed : null,
        since,
        enabledById: enabled ? (before?.enabled ? before.enabledById : (actor?.userId ?? null)) : null,
        updatedAt: new Date(),
      };
      await repo.upsert(next, ['id']);
      const entry = {
        actorUserId: actor?.userId ?? null,
        action: enabled ? 'MAINTENANCE_ENABLED' : 'MAINTENANCE_DISABLED',
        entityName: 'Maintenance',
        entityId: ROW_ID,
        before: before ? { enabled: before.enabled, reason: before.reason } : null,
        after: { enabled, reason: next.reason },
        ipAddress: meta.ipAddress,
        userAgent: meta.userAgent,
      };
      await this.audit.record(entry, tx);
      return { state: Object.assign(new MaintenanceState(), next), entry };
    });
    this.audit.announce(entry);
    return state;
  }

  /** Guards the dangerous operations (restore, reset). */
  async assertEnabled(): Promise<void> {
    if (!(await this.get()).enabled) throw new MaintenanceRequiredError();
  }
}
