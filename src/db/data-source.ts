import { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { lendingEntities } from '../domain';
import { BackupRecord } from '../backup/backup-record.entity';
import { JobLease } from '../jobs/job-lease.entity';
import { Job } from '../jobs/job.entity';
import { MaintenanceState } from '../system/maintenance-state.entity';
import { BackupSchedule } from '../schedule/backup-schedule.entity';
import { ScheduleRun } from '../schedule/schedule-run.entity';

export const kilnEntities = [MaintenanceState, BackupRecord, Job, JobLease, BackupSchedule, ScheduleRun];

/** A TypeORM data source over the lending schema and Kiln's own tables. Not yet initialised. */
export function createDataSource(url: string, poolSize: number): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: [...lendingEntities, ...kilnEntities],
    migrations: [...migrations],
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    // Timestamps are UTC without zone (as Prisma writes them): the session must agree.
    extra: { max: poolSize, options: '-c TimeZone=UTC', application_name: 'kiln' },
  });
}
