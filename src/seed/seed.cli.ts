/**
 * `npm run seed -- --members N [--seed S]`: fills the lending tables with
 * deterministic demo data, through the same database `npm start` uses.
 */
import 'reflect-metadata';
import '../config/utc';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config';
import { openDatabase } from '../db/database';
import { createLogger } from '../logging/logger';
import { seedDemoData } from './demo-data.seeder';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { members: { type: 'string', default: '1000' }, seed: { type: 'string', default: '1' } },
  });
  const members = Number(values.members);
  const seed = Number(values.seed);
  if (!Number.isInteger(members) || members < 1 || members > 1_000_000) throw new Error('--members must be a whole number from 1 to 1000000');
  if (!Number.isInteger(seed)) throw new Error('--seed must be a whole number');

  const config = loadConfig();
  const logger = createLogger(config.log.level);
  const db = await openDatabase(config, logger);
  const runner = db.dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as import('pg').PoolClient;
    const report = await seedDemoData(client, { members, seed }, (table, n) => logger.debug({ table, rows: n }, 'seeding'));
    logger.info({ members, seed, totalRows: report.totalRows, seconds: report.seconds, rowsByTable: report.rowsByTable }, 'demo data seeded');
  } finally {
    await runner.release();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'seed failed', error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
