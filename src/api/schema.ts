import type { GraphQLSchema } from 'graphql';
import { buildSchema, type ContainerType } from 'type-graphql';
import { AuthResolver } from '../auth/auth.resolver';
import { BackupResolver } from '../backup/backup.resolver';
import { createJobPubSub, type JobPubSub } from '../jobs/job-events';
import { JobResolver } from '../jobs/job.resolver';
import { RestoreResolver } from '../restore/restore.resolver';
import { JournalResolver } from '../journal/journal.resolver';
import { VerifyResolver } from '../verify/verify.resolver';
import { DeletionDependenciesResolver } from '../system/deletion-dependencies.resolver';
import { BackupHealthResolver } from '../system/backup-health.resolver';
import { MaintenanceResolver } from '../system/maintenance.resolver';
import { ResetResolver } from '../system/reset.resolver';
import { ScheduleResolver } from '../schedule/schedule.resolver';
import { RetentionResolver } from '../retention/retention.resolver';
import { AuditLogResolver } from '../audit/audit-log.resolver';
import { NotificationResolver } from '../notify/notification.resolver';
import { authChecker } from './auth-checker';
import { rejectNulBytes } from './reject-nul-bytes.middleware';
import './register-enums';

export const resolvers = [AuthResolver, MaintenanceResolver, BackupResolver, JobResolver, RestoreResolver, JournalResolver, VerifyResolver, ResetResolver, BackupHealthResolver, DeletionDependenciesResolver, ScheduleResolver, RetentionResolver, AuditLogResolver, NotificationResolver] as const;

/** Builds the executable schema from the decorated classes. */
export function buildKilnSchema(container?: ContainerType, pubSub: JobPubSub = createJobPubSub()): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    container,
    pubSub,
    authChecker,
    authMode: 'error',
    validate: true,
    globalMiddlewares: [rejectNulBytes],
  });
}
