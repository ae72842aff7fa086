import type { JournalService } from '../journal/journal.service';
import type { ContainerType } from 'type-graphql';
import type { AuditLogService } from '../audit/audit-log.service';
import type { AuthService } from '../auth/auth.service';
import type { BackupService } from '../backup/backup.service';
import type { JobRunner } from '../jobs/job-runner';
import type { DeletionDependenciesService } from '../system/deletion-dependencies.service';
import type { RestoreService } from '../restore/restore.service';
import type { BackupHealthService } from '../system/backup-health.service';
import type { MaintenanceService } from '../system/maintenance.service';
import type { ResetService } from '../system/reset.service';
import type { VerifyService } from '../verify/verify.service';
import type { ScheduleService } from '../schedule/schedule.service';
import type { RetentionService } from '../retention/retention.service';
import type { NotificationTestService } from '../notify/notification-test.service';

/** The service layer, built once at start and handed to every resolver. */
export interface Services {
  audit: AuditLogService;
  auth: AuthService;
  maintenance: MaintenanceService;
  backups: BackupService;
  jobs: JobRunner;
  restore: RestoreService;
  verify: VerifyService;
  reset: ResetService;
  health: BackupHealthService;
  dependencies: DeletionDependenciesService;
  schedule: ScheduleService;
  retention: RetentionService;
  /** The change journal (point-in-time recovery). */
  journal: JournalService;
  /** testNotification (the channels themselves are not the API's). */
  notifications: NotificationTestService;
}

/** type-graphql's container: each resolver class is built once, given the services. */
export function resolverContainer(services: Services): ContainerType {
  const instances = new Map<abstract new (...args: never[]) => unknown, unknown>();
  return {
    get(resolverClass: new (services: Services) => unknown) {
      if (!instances.has(resolverClass)) instances.set(resolverClass, new resolverClass(services));
      return instances.get(resolverClass);
    },
  };
}
