import type { PoolClient } from 'pg';
import { Client } from 'pg';
import { createDataSource } from '../src/db/data-source';
import { LENDING_TABLES } from '../src/domain';
import { seedDemoData } from '../src/seed/demo-data.seeder';

export const SEED = 1;

/** A seeded bench database. */
export interface BenchDatabase {
  name: string;
  url: string;
  members: number;
  /** Rows over all lending tables, counted (which also warms the OS cache for both readers). */
  rows: number;
}

/** Reuses `name` when it holds exactly the demo data for (members, SEED); else recreates and seeds it. */
export async function prepareDatabase(serverUrl: string, name: string, members: number): Promise<BenchDatabase> {
  const url = withDatabase(serverUrl, name);
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    if (exists) {
      const found = await checkSeed(url, members);
      if ('rows' in found) return { name, url, members, rows: found.rows };
      console.log(`${name}: ${found.why}; seeding it again`);
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    }
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  await seed(url, members);
  return { name, url, members, rows: await countRows(url) };
}

async function seed(url: string, members: number): Promise<void> {
  const dataSource = createDataSource(url, 2);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
    const runner = dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      const report = await seedDemoData(client, { members, seed: SEED });
      console.log(`seeded ${new URL(url).pathname.slice(1)}: ${members} members, ${report.totalRows} rows in ${report.seconds.toFixed(1)} s`);
      // Sets hint bits and statistics now, so neither timed reader pays for the first pass.
      await client.query('VACUUM (ANALYZE)');
      await client.query('CREATE TABLE kiln_bench_meta (members integer NOT NULL, seed integer NOT NULL, rows bigint NOT NULL)');
      await client.query('INSERT INTO kiln_bench_meta VALUES ($1, $2, $3)', [members, SEED, report.totalRows]);
    } finally {
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}

/** The row count when the database holds the expected seed, untouched since; else why not. */
async function checkSeed(url: string, members: number): Promise<{ rows: number } | { why: string }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    if (!(await client.query(`SELECT to_regclass('kiln_bench_meta') AS t`)).rows[0].t) return { why: 'no seed record' };
    const meta = (await client.query('SELECT members, seed, rows::int AS rows FROM kiln_bench_meta')).rows[0];
    if (!meta || meta.members !== members || meta.seed !== SEED) return { why: `seeded with ${JSON.stringify(meta)}, not ${members} members` };
    const rows = await countRows(url);
    return rows === meta.rows ? { rows } : { why: `holds ${rows} rows, the seed wrote ${meta.rows}` };
  } finally {
    await client.end();
  }
}

async function countRows(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const sum = LENDING_TABLES.map((t) => `(SELECT count(*) FROM "${t}")`).join(' + ');
    return Number((await client.query(`SELECT ${sum} AS rows`)).rows[0].rows);
  } finally {
    await client.end();
  }
}

export function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
