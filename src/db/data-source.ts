import type { Duplex } from 'node:stream';
import { Client, type ClientBase, type Pool, type PoolConfig } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
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
    url: withSessionSettings(url, kilnSchema),
    // Kiln's entities and TypeORM's migrations table; the app's entities name `public` themselves.
    schema: kilnSchema,
    entities: [...lendingEntities, ...kilnEntities],
    migrations: [...migrations],
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, application_name: 'kiln' },
  });
}

/**
 * The URL with Kiln's session settings added to its `options` (pg lets the URL's `options`
 * override a separate one, and a CockroachDB URL often carries its own, e.g. --cluster):
 * timestamps are UTC without zone, as Prisma writes them; unqualified names find Kiln's
 * tables in its schema and the app's in public (see schemas.ts). A later -c wins.
 */
export function withSessionSettings(url: string, kilnSchema: string): string {
  return withOptions(url, `-c TimeZone=UTC -c search_path=${searchPath(kilnSchema)}`);
}

/** `url` with `options` (server settings, `-c name=value`) added after those it already carries. */
export function withOptions(url: string, options: string): string {
  const parsed = new URL(url);
  const given = parsed.searchParams.get('options');
  parsed.searchParams.set('options', given ? `${given} ${options}` : options);
  return parsed.toString();
}

/**
 * A connection of its own, outside the data source's pool (with the pool's settings): for a session
 * held for long (an instance's liveness lock, a backup's second reader) that must not take a pooled
 * connection away from the API's requests. The caller connects and ends it.
 */
export function dedicatedClient(dataSource: DataSource, applicationName: string): Client {
  const pool = (dataSource.driver as PostgresDriver).master as Pool & { options: PoolConfig };
  return new Client({ ...pool.options, application_name: applicationName });
}

/**
 * Ends the client's connection at once, whatever it is in the middle of; the server rolls back its
 * transaction as the connection goes, and a pool drops the client (it is no longer queryable). For a
 * connection whose COPY was stopped mid-way: pg-copy-streams then never reads the socket again, so
 * a ROLLBACK or a polite end() would wait forever behind what the server still has to send. With
 * `dataSource`, the session's statement is cancelled too (through another connection).
 */
export async function closeAbruptly(client: ClientBase, dataSource?: DataSource): Promise<void> {
  // pg's own fields (its socket): no public API ends a connection without a goodbye it could wait on.
  const internals = client as unknown as { connection: { stream: Duplex }; _ended?: boolean; _connecting?: boolean; _connected?: boolean };
  // Ended already, or never connected: no socket whose closing would say so.
  if (internals._ended || !(internals._connecting || internals._connected)) return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  internals.connection.stream.destroy();
  await ended;
  // A backend waiting for a lock notices its client is gone only when it next writes: cancelled, it writes now.
  if (dataSource) await cancelStatement(dataSource, client);
}

/** Cancels the statement `client`'s session runs, through another of the data source's connections; errors ignored (nothing to cancel). */
export async function cancelStatement(dataSource: DataSource, client: ClientBase): Promise<void> {
  const pid = (client as ClientBase & { processID?: number }).processID;
  if (pid) await dataSource.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
}
