/**
 * What a change journal read by logical decoding needs from the server, checked on real servers:
 * Kiln's embedded PostgreSQL (started as `npm start` starts it) and the machine's PostgreSQL 15.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { RunningPostgres } from '../src/db/embedded-postgres';
import { createLogger } from '../src/logging/logger';
import { missingForJournal, readLogicalDecodingFacts } from '../src/journal/logical-decoding';

// Jest cannot load the ESM-only embedded-postgres: the built gateway's own launcher starts it in a child process.
const { spawnEmbeddedPostgres } = require('../dist/src/db/embedded-postgres.process') as typeof import('../src/db/embedded-postgres.process');

const OTHER_SERVER = process.env.KILN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TABLES = ['Union', 'Loan'];

// In this file's temp folder, which the postgres user reaches when tests run as root (kiln-environment.js).
const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-journal-'));
let pg: RunningPostgres;
let admin: Client;

beforeAll(async () => {
  pg = await spawnEmbeddedPostgres({ dataDir, port: 0, database: 'kiln_journal' }, createLogger('silent'));
  admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query('CREATE TABLE "Union" (id text PRIMARY KEY); CREATE TABLE "Loan" (id text PRIMARY KEY)');
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('the embedded PostgreSQL decodes changes logically and bounds the WAL a slot may hold back', async () => {
  const setting = async (name: string) => (await admin.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0].v;
  expect(await setting('wal_level')).toBe('logical');
  expect(await setting('max_slot_wal_keep_size')).toBe('1GB');
  expect(missingForJournal(await readLogicalDecodingFacts(admin, TABLES))).toEqual([]);

  // pgoutput decodes a change through a slot; the slot is gone again afterwards.
  await admin.query(`SELECT pg_create_logical_replication_slot('kiln_probe', 'pgoutput')`);
  try {
    await admin.query(`CREATE PUBLICATION kiln_probe FOR TABLE "Union"`);
    await admin.query(`INSERT INTO "Union" VALUES ('u1')`);
    const { rows } = await admin.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_logical_slot_get_binary_changes('kiln_probe', NULL, NULL, 'proto_version', '1', 'publication_names', 'kiln_probe')`,
    );
    expect(Number(rows[0].n)).toBeGreaterThanOrEqual(3); // BEGIN, RELATION, INSERT, COMMIT
  } finally {
    await admin.query('DROP PUBLICATION IF EXISTS kiln_probe');
    await admin.query(`SELECT pg_drop_replication_slot('kiln_probe')`);
  }
  expect((await admin.query('SELECT slot_name FROM pg_replication_slots')).rows).toEqual([]);
});

it('names each right a role lacks, and a server whose slots are all taken', async () => {
  await admin.query(`CREATE ROLE kiln_weak LOGIN PASSWORD 'weak-password-for-test'`);
  const weak = new Client({ connectionString: Object.assign(new URL(pg.url), { username: 'kiln_weak', password: 'weak-password-for-test' }).toString() });
  await weak.connect();
  const slots: string[] = [];
  try {
    const missing = missingForJournal(await readLogicalDecodingFacts(weak, TABLES));
    expect(missing).toEqual([
      expect.stringMatching(/^the role kiln_weak may not replicate \(ALTER ROLE kiln_weak WITH REPLICATION/),
      expect.stringMatching(/^the role kiln_weak may not create a publication in this database/),
      'the role kiln_weak does not own "Loan", "Union", which a publication of them needs',
    ]);

    // Every slot taken (physical ones cost nothing to hold here); Kiln's own slot would be reused, so it does not count.
    const max = Number((await admin.query<{ v: string }>(`SELECT current_setting('max_replication_slots') AS v`)).rows[0].v);
    for (let i = 0; i < max; i++) {
      slots.push(`kiln_fill_${i}`);
      await admin.query('SELECT pg_create_physical_replication_slot($1)', [slots[i]]);
    }
    expect(missingForJournal(await readLogicalDecodingFacts(admin, TABLES))).toEqual([`no replication slot is free (max_replication_slots = ${max}, ${max} in use)`]);
    expect(missingForJournal(await readLogicalDecodingFacts(admin, TABLES, 'kiln_fill_0'))).toEqual([]);
    // Not the app's database: a lending table is not there.
    expect(missingForJournal(await readLogicalDecodingFacts(admin, [...TABLES, 'NoSuchTable'], 'kiln_fill_0'))).toEqual([
      'this database has no "NoSuchTable": the journal follows the lending app\'s own database',
    ]);
    // A table replicated by all its columns: rows could not be found again by key.
    await admin.query('ALTER TABLE "Loan" REPLICA IDENTITY FULL');
    try {
      expect(missingForJournal(await readLogicalDecodingFacts(admin, TABLES, 'kiln_fill_0'))).toEqual([expect.stringMatching(/^"Loan" is not replicated by primary key/)]);
    } finally {
      await admin.query('ALTER TABLE "Loan" REPLICA IDENTITY DEFAULT');
    }
  } finally {
    for (const slot of slots) await admin.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await weak.end();
    await admin.query('DROP ROLE kiln_weak');
  }
});

it('names wal_level on a server that does not decode logically (the machine PostgreSQL 15)', async () => {
  const other = new Client({ connectionString: OTHER_SERVER });
  await other.connect();
  try {
    const walLevel = (await other.query<{ v: string }>(`SELECT current_setting('wal_level') AS v`)).rows[0].v;
    const missing = missingForJournal(await readLogicalDecodingFacts(other, TABLES));
    if (walLevel === 'logical') expect(missing.filter((m) => m.startsWith('wal_level'))).toEqual([]);
    else expect(missing[0]).toMatch(new RegExp(`^wal_level is ${walLevel}, logical decoding needs logical \\(set wal_level = logical and restart the server; Amazon RDS: rds.logical_replication = 1`));
  } finally {
    await other.end();
  }
});
