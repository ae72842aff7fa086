import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import type { Identity, RequestMeta } from '../src/auth/identity';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/domain/lending-enums';
import { startKiln, type RunningKiln } from '../src/kiln';
import { createLogger } from '../src/logging/logger';
import { fingerprint, fingerprintDifferences, prepareDatabase, withDatabase } from './bench-databases';
import { count, ratio, seconds, verdict, type BenchContext, type ReportLine } from './bench-report';
import { percentiles } from './bench-gateway-client';
import { eventually } from '../test/support/until';
import { runChild } from './bench-child';
import { lsnToBigInt } from '../src/journal/lsn';
import { LENDING_TABLES } from '../src/domain';
import type { JournalService } from '../src/journal/journal.service';

const MEMBERS = Number(process.env.BENCH_JOURNAL_MEMBERS ?? 34_000); // ~1,000,000 rows
const CHANGES = 100_000;
const ROWS_PER_TRANSACTION = 100;
const LATENCY_TRANSACTIONS = 2_000;
const LATENCY_ROUNDS = 3;
const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
const META: RequestMeta = { ipAddress: null, userAgent: 'kiln-bench' };

/**
 * JOURNAL lines (issue 15), on a server with wal_level = logical (the bench's own, else an embedded
 * one started here): the change journal's throughput and lag under a write workload of 100,000
 * changes, the write latency it adds to the app's transactions (journal off, a bare pg_recvlogical
 * decoding the same tables, and Kiln's journal on, interleaved: Kiln is judged against the bare decoder),
 * and a restore to an instant (a ~1,000,000-row base plus the 100,000 changes replayed) against a
 * plain restore of the same base.
 */
export async function measureJournal(ctx: BenchContext): Promise<ReportLine[]> {
  let serverUrl = ctx.server.url;
  let stopServer: (() => Promise<void>) | undefined;
  if (!(await logical(serverUrl))) {
    const { startEmbeddedPostgres } = await import('../src/db/embedded-postgres.js');
    const pg = await startEmbeddedPostgres({ dataDir: path.resolve(__dirname, '../../.kiln-bench-journal'), port: 0, database: 'postgres' });
    serverUrl = pg.url;
    stopServer = pg.stop;
  }
  const database = await prepareDatabase(serverUrl, 'kiln_bench_journal', MEMBERS);
  const url = withDatabase(serverUrl, 'kiln_bench_journal');
  const db = new Client({ connectionString: url });
  await db.connect();
  const dataDir = await mkdtemp(path.join(ctx.workDir, 'journal-'));
  // The seeded database has its admins (so no bootstrap one): the measurements act as one of them.
  const admin = (await db.query<{ id: string }>(`SELECT id FROM "User" WHERE role = 'ADMIN' AND "isActive" ORDER BY id LIMIT 1`)).rows[0];
  const actor: Identity = { userId: admin.id, role: Role.ADMIN, jwtId: 'bench' };
  let kiln: RunningKiln | undefined;
  try {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '0',
      DATABASE_URL: url,
      DATA_DIR: dataDir,
      BACKUP_DIR: path.join(dataDir, 'backups'),
      JWT_SECRET,
      BACKUP_SIGNING_KEY: `${JWT_SECRET}-signing`,
      ADMIN_EMAIL: 'bench-journal@kiln.test',
      ADMIN_PASSWORD: 'bench-journal-password',
      JOURNAL_SEGMENT_SECONDS: '1',
      CLOUD_REQUIRED: 'false',
      LOG_LEVEL: 'silent',
    });
    kiln = await startKiln(config, createLogger('silent'));
    const { services } = kiln;

    await services.schedule.update({ continuous: true }, actor, META);
    await eventually('the journal to stream and its base backup', async () => services.journal.streaming !== null && (await idleJobs(db)), 600_000, 100); // the base backup was queued when it was turned on
    const base = (await services.backups.records.pointInTimeBases(new Date()))[0];
    const latency = await writeLatencyRounds(db, url, services.journal);

    // The write workload, and the journal's lag sampled while it runs, two ways: how long a write
    // waits to be stored (the server's WAL position when sampled, until the stored position passes
    // it), and how far behind the clock the restorable window's end is (that, plus the sampling the
    // window is computed from and its 1 s safety margin: see JournalStreamer.cover).
    const probe = new Client({ connectionString: url });
    await probe.connect();
    const windowLags: number[] = [];
    const storedLags: number[] = [];
    const unstored: Array<{ sampledAt: number; lsn: bigint }> = [];
    let writing = true;
    const started = performance.now();
    const sampling = setInterval(() => {
      void services.journal.store.openChainNow().then((chain) => chain?.coveredUntil && writing && windowLags.push((Date.now() - chain.coveredUntil.getTime()) / 1000));
      const sampledAt = performance.now();
      if (writing) void probe.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn').then((r) => unstored.push({ sampledAt, lsn: lsnToBigInt(r.rows[0].lsn) }));
      const stored = services.journal.streaming?.storedThrough() ?? 0n;
      while (unstored.length > 0 && unstored[0].lsn <= stored) storedLags.push((performance.now() - unstored.shift()!.sampledAt) / 1000);
    }, 100);
    await workload(db);
    writing = false;
    const written = (performance.now() - started) / 1000;
    const at = (await db.query<{ at: Date }>(`SELECT date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond' AS at`)).rows[0].at;
    await eventually('the journal to store the workload', async () => ((await services.journal.store.openChainNow())?.coveredUntil ?? new Date(0)) >= at, 600_000, 100);
    const stored = (performance.now() - started) / 1000;
    await eventually('every write sample to be stored', async () => unstored.length === 0, 60_000, 100);
    clearInterval(sampling);
    await probe.end();
    const expected = await fingerprint(url);

    // The journal off (its segments kept) before the restores: otherwise the streamer decodes each
    // restore's million reloaded rows while the next restore is measured.
    await services.schedule.update({ continuous: false }, actor, META);
    await services.maintenance.set(true, 'bench', actor, META);
    // Alternated, twice each, the faster of each kept: one restore is noisy on a 2-core machine.
    const pitrs: Awaited<ReturnType<typeof timedJob>>[] = [];
    const plains: Awaited<ReturnType<typeof timedJob>>[] = [];
    let pitrDifferences: string[] = [];
    for (let round = 0; round < 2; round++) {
      pitrs.push(await timedJob(kiln, () => services.restore.restoreToPointInTime(at, actor, META)));
      pitrDifferences = pitrDifferences.concat(fingerprintDifferences(expected, await fingerprint(url)).filter((d) => !/^"(User|UserLoginHistory|StaffSession|AuditLog)"/.test(d)));
      plains.push(await timedJob(kiln, () => services.restore.restore(base.id, null, actor, META)));
    }
    await services.maintenance.set(false, 'bench', actor, META);
    const fastest = (runs: typeof pitrs) => runs.reduce((best, run) => (run.status !== 'COMPLETED' || run.seconds > best.seconds ? best : run));
    const [pitr, plain] = [fastest(pitrs), fastest(plains)];

    const [p99Stored, p99Window] = [percentiles(storedLags).p99, percentiles(windowLags).p99];
    const p50 = (l: number[]) => percentiles(l).p50 * 1000;
    return [
      { metric: 'journal: changes written (100 a transaction)', value: `${count(CHANGES)} in ${seconds(written)}` },
      { metric: 'journal: throughput (changes stored / s)', value: count(Math.round(CHANGES / stored)) },
      { metric: 'journal: lag p99 during the workload, write to stored', value: seconds(p99Stored), target: '< 2 s', verdict: verdict(p99Stored < 2) },
      { metric: 'journal: restorable window behind the clock, p99', value: seconds(p99Window) },
      { metric: 'journal: one-row write p50, journal off / on', value: `${p50(latency.off).toFixed(2)} / ${p50(latency.on).toFixed(2)} ms = ${ratio(p50(latency.on) / p50(latency.off))} off` },
      ...writeLatencyLines(latency),
      { metric: `journal: restore to an instant (${count(database.rows)}-row base + ${count(CHANGES)} changes), best of 2`, value: `${seconds(pitr.seconds)} (${pitrs.map((r) => r.status).join(', ')})` },
      { metric: 'journal: plain restore of the same base, best of 2', value: `${seconds(plain.seconds)} (${plains.map((r) => r.status).join(', ')})` },
      { metric: 'journal: restore to an instant / plain restore', value: ratio(pitr.seconds / plain.seconds) },
      { metric: 'journal: restored instant equals the data at it', value: pitrDifferences.length === 0 ? 'yes' : pitrDifferences.join('; '), target: 'yes', verdict: verdict(pitrDifferences.length === 0) },
    ];
  } finally {
    try {
      if (kiln) {
        await kiln.services.schedule.update({ continuous: false }, actor, META).catch(() => undefined);
        await kiln.close();
      }
      await db.end();
    } finally {
      await stopServer?.(); // never left running: the next bench could not start it
    }
  }
}

async function logical(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0].wal_level === 'logical';
  } finally {
    await client.end();
  }
}

/** 100,000 changes as the app makes them: inserts, updates and deletes of notes, updates of schedule items, 100 to a transaction. */
async function workload(db: Client): Promise<void> {
  const userId = (await db.query<{ id: string }>('SELECT id FROM "User" LIMIT 1')).rows[0].id;
  const per = ROWS_PER_TRANSACTION;
  for (let done = 0, batch = 0; done < CHANGES; batch++) {
    const kind = batch % 3;
    if (kind === 0) {
      await db.query(
        `INSERT INTO "UserNote" (id, "userId", title, content, "createdByUserId", "updatedAt")
         SELECT 'bench-' || $2 || '-' || g, $1, 'note', repeat('x', 200), $1, now() FROM generate_series(1, $3) g`,
        [userId, batch, per],
      );
    } else if (kind === 1) {
      await db.query(`UPDATE "RepaymentScheduleItem" SET "updatedAt" = now() WHERE id IN (SELECT id FROM "RepaymentScheduleItem" ORDER BY id OFFSET $1 LIMIT $2)`, [
        (batch * per) % 500_000,
        per,
      ]);
    } else {
      await db.query(`DELETE FROM "UserNote" WHERE id LIKE 'bench-' || $1 || '-%'`, [batch - 2]);
    }
    done += per;
  }
}

/** One-row writes' latencies, from a process of their own (see write-latency-child.ts). */
async function writeLatencies(url: string, tag: string): Promise<number[]> {
  const result = await runChild<{ seconds: number[] }>('write-latency-child.js', { ...process.env, DATABASE_URL: url, BENCH_WRITES: String(LATENCY_TRANSACTIONS), BENCH_TAG: tag });
  if (!result.ok) throw new Error(`the write-latency child failed: ${result.error}`);
  return result.seconds;
}

type Decoder = 'off' | 'bare' | 'on';

interface LatencyRounds {
  off: number[];
  on: number[];
  /** Why there is no bare decoder's figure, when pg_recvlogical could not run. */
  bare: number[] | { skipped: string };
  /** Each round's p50 on / bare (or on / off without a bare decoder). */
  roundRatios: number[];
  /** CPU seconds per write: Kiln's process while its journal streams, pg_recvlogical's while it does. */
  cpuPerWrite: { on: number; bare: number | null };
}

/**
 * One-row writes, LATENCY_ROUNDS rounds of three passes: no decoder ('off'), a bare consumer of the
 * server's logical decoding ('bare': pg_recvlogical, in C, on a slot and publication of its own for
 * the same tables, writing nowhere), and Kiln's journal streaming ('on'). The order turns each round,
 * so whatever drifts on the machine (the page cache, autovacuum, another process) falls on all three
 * alike; one pass of each was too noisy on 2 cores to tell Kiln's share (0.97-1.20x over five runs).
 * For the other two, Kiln's journal is paused as when its instance stops: the streamer stopped (its
 * last segment stored), its slot kept, so the server decodes nothing for it. It streams again after.
 */
async function writeLatencyRounds(db: Client, url: string, journal: JournalService): Promise<LatencyRounds> {
  const out: LatencyRounds = { off: [], on: [], bare: [], roundRatios: [], cpuPerWrite: { on: 0, bare: null } };
  const cpu = { on: 0, bare: 0 };
  const bare = await BareDecoder.create(db, url);
  if ('skipped' in bare) out.bare = bare;
  try {
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      const order: Decoder[] = ['off', 'bare', 'on'];
      const round50: Partial<Record<Decoder, number>> = {};
      for (const decoder of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
        if (decoder === 'bare' && 'skipped' in bare) continue;
        await kilnJournal(db, journal, decoder === 'on');
        let latencies: number[];
        if (decoder === 'bare') {
          const ran = await (bare as BareDecoder).during(() => writeLatencies(url, 'bare'));
          latencies = ran.result;
          cpu.bare += ran.cpuSeconds;
          (out.bare as number[]).push(...latencies);
        } else {
          const before = process.cpuUsage();
          latencies = await writeLatencies(url, decoder);
          const used = process.cpuUsage(before);
          if (decoder === 'on') cpu.on += (used.user + used.system) / 1e6;
          out[decoder].push(...latencies);
        }
        round50[decoder] = percentiles(latencies).p50;
      }
      out.roundRatios.push(round50.on! / (round50.bare ?? round50.off!));
    }
  } finally {
    if (!('skipped' in bare)) await bare.drop();
    await kilnJournal(db, journal, true);
  }
  const writes = LATENCY_ROUNDS * LATENCY_TRANSACTIONS;
  out.cpuPerWrite = { on: cpu.on / writes, bare: 'skipped' in bare ? null : cpu.bare / writes };
  return out;
}

/** Kiln's journal streaming (and caught up with the server) or paused. */
async function kilnJournal(db: Client, journal: JournalService, streaming: boolean): Promise<void> {
  if (!streaming) return journal.close();
  if (!journal.streaming) journal.start();
  const lsn = lsnToBigInt((await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn);
  await eventually('the journal to stream and catch up', () => (journal.streaming?.acknowledgedThrough() ?? 0n) >= lsn, 60_000, 50);
}

function writeLatencyLines(latency: LatencyRounds): ReportLine[] {
  const p50 = (l: number[]) => percentiles(l).p50 * 1000;
  const us = (s: number) => `${Math.round(s * 1e6)} us`;
  const rounds = `rounds ${latency.roundRatios.map((r) => r.toFixed(2)).join(', ')}`;
  if ('skipped' in latency.bare) {
    return [{ metric: 'journal: one-row write p50, bare decoder (pg_recvlogical)', value: `n/a (${rounds})`, target: `on <= 1.1x off (${latency.bare.skipped})`, verdict: verdict(p50(latency.on) <= 1.1 * p50(latency.off)) }];
  }
  return [
    // Kiln's own share is judged against a consumer with no Kiln in it: the server's logical decoding (its
    // WAL sender woken at every commit) costs the writers the same whoever reads the slot.
    {
      metric: `journal: one-row write p50, bare decoder (pg_recvlogical) / Kiln on, ${LATENCY_ROUNDS} x ${count(LATENCY_TRANSACTIONS)} each`,
      value: `${p50(latency.bare).toFixed(2)} / ${p50(latency.on).toFixed(2)} ms = ${ratio(p50(latency.on) / p50(latency.bare))} (${rounds})`,
      target: 'Kiln on <= 1.1x the bare decoder (the server decoding, no Kiln)',
      verdict: verdict(p50(latency.on) <= 1.1 * p50(latency.bare)),
    },
    { metric: 'journal: decoder CPU per write, pg_recvlogical / Kiln', value: `${us(latency.cpuPerWrite.bare!)} / ${us(latency.cpuPerWrite.on)}` },
  ];
}

const BARE = 'kiln_bench_bare';

/**
 * pg_recvlogical streaming pgoutput from a slot and publication of its own (the lending tables, as
 * Kiln's), started for each pass and stopped after it; the slot and publication are dropped at the end.
 */
class BareDecoder {
  private constructor(
    private readonly db: Client,
    private readonly url: string,
  ) {}

  /** The slot and publication, and pg_recvlogical once to see that it runs here; else why not. */
  static async create(db: Client, url: string): Promise<BareDecoder | { skipped: string }> {
    // A run killed half-way left them behind (and its slot holds the server's WAL): gone before anything starts.
    await dropBareDecoder(db);
    await db.query(`CREATE PUBLICATION ${BARE} FOR TABLE ${LENDING_TABLES.map((t) => `"${t}"`).join(', ')}`);
    await db.query(`SELECT pg_create_logical_replication_slot('${BARE}', 'pgoutput')`);
    const decoder = new BareDecoder(db, url);
    try {
      await decoder.during(async () => undefined);
      return decoder;
    } catch (err) {
      await decoder.drop();
      return { skipped: (err as Error).message };
    }
  }

  /** Runs `work` while pg_recvlogical streams; with the CPU time pg_recvlogical used meanwhile. */
  async during<T>(work: () => Promise<T>): Promise<{ result: T; cpuSeconds: number }> {
    const decoder = spawn('pg_recvlogical', ['-d', this.url, '--slot', BARE, '--start', '-o', 'proto_version=1', '-o', `publication_names=${BARE}`, '-f', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let said = '';
      decoder.stderr!.on('data', (d: Buffer) => (said = (said + String(d)).slice(-2000)));
      const failed = new Promise<string>((resolve) => {
        decoder.once('error', (err) => resolve(err.message));
        decoder.once('exit', (code) => resolve(`pg_recvlogical exited with ${code}: ${said.trim()}`));
      });
      const streaming = eventually('pg_recvlogical to stream', async () => await this.slotActive(), 30_000, 50);
      streaming.catch(() => undefined); // lost to `failed` when pg_recvlogical cannot run
      const first = await Promise.race([streaming.then(() => null), failed]);
      if (first !== null) throw new Error(first);
      const before = await cpuSecondsOf(decoder.pid!);
      const result = await work();
      return { result, cpuSeconds: (await cpuSecondsOf(decoder.pid!)) - before };
    } finally {
      if (decoder.exitCode === null) {
        const exited = once(decoder, 'exit');
        decoder.kill();
        await exited;
      }
      // The walsender lets go of the slot a moment after its client is gone.
      await eventually('the bare slot to be free', async () => !(await this.slotActive()), 30_000, 50);
    }
  }

  drop(): Promise<void> {
    return dropBareDecoder(this.db);
  }

  private async slotActive(): Promise<boolean> {
    return (await this.db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${BARE}' AND active`)).rowCount === 1;
  }
}

/** User and system CPU time a process has used (Linux /proc; clock ticks of 1/100 s). */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after the command's name, which may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Drops the bare decoder's slot and publication, whichever exist; the publication even when the slot's drop fails. */
async function dropBareDecoder(db: Client): Promise<void> {
  try {
    // The walsender lets go of the slot a moment after its client is gone.
    await eventually('the bare slot to be free', async () => (await db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${BARE}' AND active`)).rowCount === 0, 30_000, 50);
    await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${BARE}'`);
  } finally {
    await db.query(`DROP PUBLICATION IF EXISTS ${BARE}`);
  }
}

async function timedJob(kiln: RunningKiln, start: () => Promise<{ id: string }>): Promise<{ seconds: number; status: string }> {
  const t = performance.now();
  const job = await start();
  await kiln.services.jobs.settled(job.id);
  const done = await kiln.services.jobs.get(job.id);
  return { seconds: (performance.now() - t) / 1000, status: done?.status === 'COMPLETED' ? 'COMPLETED' : `${done?.status}: ${done?.error}` };
}

async function idleJobs(db: Client): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM kiln.kiln_jobs WHERE status IN ('QUEUED', 'RUNNING')`)).rowCount === 0;
}
