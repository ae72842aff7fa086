import type { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../domain';
import { newId } from '../db/ids';

export interface AuditEntry {
  actorUserId: string | null;
  action: string;
  entityName: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  metadata?: Record<string, unknown>;
  ipAddress?: string | null;
  userAgent?: string | null;
}

/** Writes the lending app's AuditLog rows for what admins do through Kiln. */
export class AuditLogService {
  constructor(private readonly dataSource: DataSource) {}

  /** Pass the transaction's manager to make the entry part of it. */
  async record(entry: AuditEntry, manager: EntityManager = this.dataSource.manager): Promise<void> {
    const row = manager.create(AuditLog, {
      id: newId(),
      actorUserId: entry.actorUserId,
      action: entry.action,
      entityName: entry.entityName,
      entityId: entry.entityId,
      before: entry.before ?? null,
      after: entry.after ?? null,
      metadata: { source: 'kiln', ...entry.metadata },
      ipAddress: entry.ipAddress ?? null,
      userAgent: entry.userAgent ?? null,
    });
    await manager.insert(AuditLog, row);
  }
}

