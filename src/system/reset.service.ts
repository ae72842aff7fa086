import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AuditLogService } from '../audit/audit-log.service';
import type { PasswordService } from '../auth/password.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { BackupType } from '../backup/backup.enums';
import type { BackupService } from '../backup/backup.service';
import { newId } from '../db/ids';
import { query, quoteIdent } from '../db/sql';
import { CompanySetting, LENDING_TABLES, User } from '../domain';
import { Role } from '../domain/lending-enums';
import { BadUserInputError } from '../errors/kiln-errors';
import { JobKind } from '../jobs/job.enums';
import type { JobRun, JobRunner } from '../jobs/job-runner';
import type { ResetResult } from './reset-result.type';

export const RESET_CONFIRMATION = 'DELETE';

/**
 * The emergency reset: a PRE_RESET safety backup, then one transaction that
 * empties every lending table and leaves a super admin and the default company
 * settings. Backup records, jobs and the schedule are Kiln's and survive.
 */
export class ResetService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly runner: JobRunner,
    private readonly backups: BackupService,
    private readonly audit: AuditLogService,
    private readonly superAdminEmail: string,
    private readonly passwords: PasswordService,
  ) {}

  /** `superAdminPassword` as the API validated it (ResetArgs: 12 to 256 characters); null makes a temporary one. */
  async reset(confirmation: string, superAdminPassword: string | null | undefined, actor: Identity, meta: RequestMeta): Promise<ResetResult> {
    if (confirmation !== RESET_CONFIRMATION) {
      throw new BadUserInputError(`Type the confirmation exactly: "${RESET_CONFIRMATION}"`, { field: 'confirmation' });
    }
    const temporaryPassword = superAdminPassword == null ? randomBytes(18).toString('base64url') : null;
    const password = superAdminPassword ?? temporaryPassword!;
    const job = await this.runner.start({
      kind: JobKind.RESET,
      requestedById: actor.userId,
      input: { superAdminEmail: this.superAdminEmail },
      run: (run) => this.run(run, password, actor, meta),
    });
    return { job, superAdminEmail: this.superAdminEmail, temporaryPassword };
  }

  private async run(run: JobRun, password: string, actor: Identity, meta: RequestMeta): Promise<{ message: string }> {
    // Hashed here, not before: a refused reset (CONFLICT) answers at once.
    const passwordHash = await this.passwords.hash(password);
    run.progress.update({ phase: 'safety' });
    const safety = await this.backups.backupWithin(run, BackupType.PRE_RESET, actor.userId);
    await run.attachBackup(safety.id);
    run.signal.throwIfAborted();

    run.progress.update({ phase: 'reset', table: null });
    const superAdminId = newId();
    await this.dataSource.transaction(async (tx) => {
      // Every lending table at once: nothing outside the list points into it.
      await query(tx, `TRUNCATE ${LENDING_TABLES.map(quoteIdent).join(', ')}`);
      const now = new Date();
      await tx.insert(User, {
        id: superAdminId,
        email: this.superAdminEmail,
        passwordHash,
        role: Role.ADMIN,
        isActive: true,
        firstName: 'Super',
        lastName: 'Admin',
        createdAt: now,
        updatedAt: now,
      });
      await tx.insert(CompanySetting, {
        id: 'default',
        name: 'Millennium Potters',
        email: this.superAdminEmail,
        currency: 'NGN',
        currencySymbol: '₦',
        dateFormat: 'DD/MM/YYYY',
        timeFormat: '24h',
        timezone: 'Africa/Lagos',
        createdAt: now,
        updatedAt: now,
      });
      await this.audit.record(
        {
          actorUserId: superAdminId,
          action: 'SYSTEM_RESET',
          entityName: 'System',
          entityId: 'lending',
          metadata: { jobId: run.job.id, resetBy: actor.userId, safetyBackupId: safety.id, recordCounts: safety.recordCounts },
          ipAddress: meta.ipAddress,
          userAgent: meta.userAgent,
        },
        tx,
      );
      run.signal.throwIfAborted();
    });
    const rows = Object.values(safety.recordCounts ?? {}).reduce((a, b) => a + b, 0);
    return { message: `Emptied ${LENDING_TABLES.length} tables (${rows} rows, kept in safety backup ${safety.id}); super admin ${this.superAdminEmail} created; everybody logged out` };
  }
}
