import { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { lendingEntities } from '../domain';
import { BackupRecordRow } from '../backup/records/backup-record-row.entity';
import { BackupDetails } from '../backup/records/backup-details.entity';
import { JobLease } from '../jobs/job-lease.entity';
import { Job } from '../jobs/job.entity';
import { MaintenanceState } from '../system/maintenance-state.entity';
import { AppScheduleRow } from '../schedule/settings/app-schedule-row.entity';
import { KilnScheduleSettings } from '../schedule/settings/kiln-schedule-settings.entity';
import { ScheduleRun } from '../schedule/schedule-run.entity';
import { DEFAULT_KILN_SCHEMA, searchPath } from './schemas';

/** The app's two backup tables (in `public`) and Kiln's own tables (in its schema). */
export const kilnEntities = [MaintenanceState, BackupRecordRow, BackupDetails, Job, JobLease, AppScheduleRow, KilnScheduleSettings, ScheduleRun];

/** A TypeORM data source over the app's tables and Kiln's own. Not yet initialised. */
export function createDataSource(url: string, poolSize: number, kilnSchema = DEFAULT_KILN_SCHEMA): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    // Kiln's entities and TypeORM's migrations table; the app's entities name `public` themselves.
    schema: kilnSchema,
    entities: [...lendingEntities, ...kilnEntities],
    migrations: [...migrations],
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    // Timestamps are UTC without zone (as Prisma writes them): the session must agree.
    // Unqualified names find Kiln's tables in its schema and the app's in public (see schemas.ts).
    extra: { max: poolSize, options: `-c TimeZone=UTC -c search_path=${searchPath(kilnSchema)}`, application_name: 'kiln' },
  });
}
