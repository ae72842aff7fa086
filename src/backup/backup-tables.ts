import { LENDING_TABLES } from '../domain';

export interface BackupContentOptions {
  includeAuditLogs: boolean;
  includeSessions: boolean;
}

/** The lending tables a backup holds, parents first; Kiln's own tables never. */
export function tablesToBackUp(options: BackupContentOptions): string[] {
  return LENDING_TABLES.filter(
    (t) => (t !== 'AuditLog' || options.includeAuditLogs) && (t !== 'StaffSession' || options.includeSessions),
  );
}
