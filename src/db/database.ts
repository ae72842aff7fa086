import type { DataSource } from 'typeorm';
import type { KilnConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import { createDataSource } from './data-source';
import { migrateDatabase } from './migrate';
import { spawnEmbeddedPostgres } from './embedded-postgres.process';

export interface Database {
  dataSource: DataSource;
  /** Where it is: the change journal opens a replication connection of its own. */
  url: string;
  /** True when Kiln runs its own PostgreSQL in the data folder. */
  embedded: boolean;
  close(): Promise<void>;
}

/** Connects (starting the embedded PostgreSQL when no DATABASE_URL is set) and migrates. */
export async function openDatabase(config: KilnConfig, logger: Logger): Promise<Database> {
  let url = config.database.url;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    const started = Date.now();
    const pg = await spawnEmbeddedPostgres(
      { dataDir: config.dataDir, port: config.database.embeddedPort, database: 'kiln' },
      logger,
    );
    url = pg.url;
    stopEmbedded = pg.stop;
    logger.info({ dataDir: config.dataDir, ms: Date.now() - started }, 'embedded PostgreSQL running');
  }

  const dataSource = createDataSource(url, config.database.poolSize, config.database.kilnSchema);
  try {
    await dataSource.initialize();
    const applied = await migrateDatabase(dataSource, config.database.kilnSchema);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await stopEmbedded?.();
    throw err;
  }
  return {
    dataSource,
    url,
    embedded: stopEmbedded !== undefined,
    close: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await stopEmbedded?.();
    },
  };
}
