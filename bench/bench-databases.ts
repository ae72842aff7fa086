import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import bcrypt from 'bcrypt';
import type { PoolClient } from 'pg';
import { Client } from 'pg';
import { startKilnProcess, type KilnProcess } from '../test/support/kiln-process';
import { createDataSource } from '../src/db/data-source';
import { migrateDatabase } from '../src/db/migrate';
import { LENDING_TABLES } from '../src/domain';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { tableDigestSql } from '../src/verify/table-digest';

export const SEED = 1;

/** A seeded bench database. */
export interface BenchDatabase {
  name: string;
  url: string;
  members: number;
  /** Rows over all lending tables, counted (which also warms the OS cache for both readers). */
  rows: number;
  /** The content the seed wrote, as checked at the start of this run: what every restore must put back. */
  seeded: Fingerprint;
}

/** Per lending table: row count and an order-independent digest of every row's full content. */
export type Fingerprint = Record<string, { rows: number; digest: string }>;

/** Reuses `name` when it holds exactly the demo data for (members, SEED); else recreates and seeds it. */
export async function prepareDatabase(serverUrl: string, name: string, members: number): Promise<BenchDatabase> {
  const url = withDatabase(serverUrl, name);
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    if (exists) {
      const found = await checkSeed(url, members);
      if ('seeded' in found) return { name, url, members, rows: totalRows(found.seeded), seeded: found.seeded };
      console.log(`${name}: ${found.why}; seeding it again`);
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    }
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  await seed(url, members);
  const seeded = await fingerprint(url);
  await recordFingerprint(url, seeded);
  return { name, url, members, rows: totalRows(seeded), seeded };
}

async function seed(url: string, members: number): Promise<void> {
  const dataSource = createDataSource(url, 2);
  await dataSource.initialize();
  try {
    await migrateDatabase(dataSource, 'kiln');
    const runner = dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      const report = await seedDemoData(client, { members, seed: SEED });
      console.log(`seeded ${new URL(url).pathname.slice(1)}: ${members} members, ${report.totalRows} rows in ${report.seconds.toFixed(1)} s`);
      // Sets hint bits and statistics now, so neither timed reader pays for the first pass.
      await client.query('VACUUM (ANALYZE)');
      await client.query('CREATE TABLE kiln.kiln_bench_meta (members integer NOT NULL, seed integer NOT NULL, rows bigint NOT NULL)');
      await client.query('INSERT INTO kiln.kiln_bench_meta VALUES ($1, $2, $3)', [members, SEED, report.totalRows]);
    } finally {
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}

/**
 * The seeded content when the database holds exactly the expected seed, untouched since; else why not.
 * Restores write the whole database, so the content is compared, not only the row count: a database an
 * interrupted restore left behind is seeded again instead of being measured.
 */
async function checkSeed(url: string, members: number): Promise<{ seeded: Fingerprint } | { why: string }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  let meta: { members: number; seed: number; rows: number } | undefined;
  let recorded: Fingerprint | undefined;
  try {
    if (!(await client.query(`SELECT to_regclass('kiln.kiln_bench_meta') AS t`)).rows[0].t) return { why: 'no seed record' };
    meta = (await client.query('SELECT members, seed, rows::int AS rows FROM kiln.kiln_bench_meta')).rows[0];
    if (!meta || meta.members !== members || meta.seed !== SEED) return { why: `seeded with ${JSON.stringify(meta)}, not ${members} members` };
    if ((await client.query(`SELECT to_regclass('kiln.kiln_bench_fingerprint') AS t`)).rows[0].t) {
      const { rows } = await client.query<{ table: string; rows: number; digest: string }>('SELECT "table", rows::int AS rows, digest FROM kiln.kiln_bench_fingerprint');
      recorded = Object.fromEntries(rows.map((r) => [r.table, { rows: r.rows, digest: r.digest }]));
    }
  } finally {
    await client.end();
  }
  const live = await fingerprint(url);
  if (totalRows(live) !== meta.rows) return { why: `holds ${totalRows(live)} rows, the seed wrote ${meta.rows}` };
  if (recorded) {
    const changed = fingerprintDifferences(recorded, live);
    return changed.length ? { why: `content differs from the seed in ${changed.join(', ')}` } : { seeded: live };
  }
  // Seeded by an older bench that recorded counts only: the counts match, so this content becomes the reference.
  await recordFingerprint(url, live);
  return { seeded: live };
}

/** Count and order-independent content digest (as the verify drill computes it) of every lending table. */
export async function fingerprint(url: string): Promise<Fingerprint> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const result: Fingerprint = {};
    for (const table of LENDING_TABLES) {
      const { rows } = await client.query<{ rows: string; digest: string }>(tableDigestSql(`"${table}"`));
      result[table] = { rows: Number(rows[0].rows), digest: rows[0].digest };
    }
    return result;
  } finally {
    await client.end();
  }
}

/** The tables whose count or content differ, e.g. `"StaffSession" (content)`; empty when equal. */
export function fingerprintDifferences(expected: Fingerprint, actual: Fingerprint): string[] {
  return LENDING_TABLES.flatMap((t) => {
    const [e, a] = [expected[t], actual[t]];
    if (!e || !a) return [`"${t}" (missing)`];
    if (e.rows !== a.rows) return [`"${t}" (${a.rows} rows, expected ${e.rows})`];
    return e.digest === a.digest ? [] : [`"${t}" (content)`];
  });
}

export const totalRows = (f: Fingerprint): number => Object.values(f).reduce((n, t) => n + t.rows, 0);

async function recordFingerprint(url: string, seeded: Fingerprint): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('CREATE TABLE IF NOT EXISTS kiln.kiln_bench_fingerprint ("table" text PRIMARY KEY, rows bigint NOT NULL, digest text NOT NULL)');
    await client.query('DELETE FROM kiln.kiln_bench_fingerprint');
    for (const [table, { rows, digest }] of Object.entries(seeded)) {
      await client.query('INSERT INTO kiln.kiln_bench_fingerprint VALUES ($1, $2, $3)', [table, rows, digest]);
    }
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

export function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The seed's admins have random passwords: the bench's own admin, hashed at Kiln's default cost. */
export async function ensureBenchAdmin(url: string, admin: { email: string; password: string }): Promise<void> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, $2, $3, 'ADMIN', now())
       ON CONFLICT (email) DO UPDATE SET "passwordHash" = EXCLUDED."passwordHash", role = 'ADMIN', "isActive" = true, "deletedAt" = NULL`,
      [randomUUID(), admin.email, await bcrypt.hash(admin.password, 12)],
    );
  } finally {
    await db.end();
  }
}

/**
 * A gateway process (the built dist/) on a seeded bench database, signed in as by `admin`
 * (created with the seed's database): its own data folder under `workDir`, fresh secrets.
 */
export async function startBenchGateway(
  workDir: string,
  database: BenchDatabase,
  admin: { email: string; password: string },
  env: Record<string, string> = {},
): Promise<KilnProcess> {
  await ensureBenchAdmin(database.url, admin);
  const dataDir = await mkdtemp(path.join(workDir, `${database.name}-`));
  return startKilnProcess({
    DATABASE_URL: database.url,
    JWT_SECRET: randomBytes(32).toString('hex'),
    BACKUP_SIGNING_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    BACKUP_DIR: path.join(dataDir, 'backups'),
    ...env,
  });
}
