/**
 * One Kiln restore of a stored backup (BENCH_BACKUP_ID, in BACKUP_DIR) in a process of its own,
 * so maxRSS is the gateway's and the restore's alone. Configured by the environment like
 * `npm start`; reports a {@link RestoreChildResult} over IPC when forked, else as one JSON line
 * on stdout (so it can be run by hand, e.g. under `node --cpu-prof`).
 *
 * The restore runs as an admin would run it: maintenance mode on, `restoreBackup(id)`, wait for
 * the job. Its phases are timed from the outside, without touching src/: the header check and
 * the PRE_RESTORE safety backup by wrapping `readRestoreHeader` and `backups.backupWithin`, the
 * transaction by timing the queries of the connection that loads the rows (json_populate_recordset
 * batches or COPY FROM STDIN). Should a hook stop matching the code, its phases read n/a and the
 * total is still right.
 */
import { instrumentRestore, phaseAt, restorePhaseSeconds } from './restore-phases';
import 'reflect-metadata';
import '../src/config/utc';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { In } from 'typeorm';
import type { Identity, RequestMeta } from '../src/auth/identity';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/domain/lending-enums';
import { Job } from '../src/jobs/job.entity';
import { JobStatus } from '../src/jobs/job.enums';
import { startKiln } from '../src/kiln';
import { createLogger } from '../src/logging/logger';
import { machineBusySeconds } from './machine-cpu';
import { BENCH_USER_AGENT, failure, reportAndExit, type ChildResult } from './bench-child';

/** Seconds of each part of the restore job; null where a hook did not fire. */
export interface RestorePhases {
  /** The check of the file's header (its rows are checked as they load). */
  validate: number | null;
  /** The PRE_RESTORE safety backup: a full backup of the live data. */
  safety: number | null;
  /** True when validation and safety backup ran side by side (then they do not add up). */
  overlapped: boolean;
  /** Everything after both: load, what follows it, commit, job bookkeeping. */
  restore: number | null;
  /** Reading the file again and loading its rows (today: json_populate_recordset into temporary staging tables). */
  load: number | null;
  /** Of load: time the loading statements ran (INSERT … json_populate_recordset, or a COPY FROM STDIN stream). */
  loadStatements: number | null;
  /** From the last row loaded to COMMIT (today: DELETE and INSERT … SELECT into the live tables), sessions revoked, audit entry. */
  afterLoad: number | null;
  commit: number | null;
}

export type RestoreChildResult = ChildResult<{
  seconds: number;
  cpuSeconds: number;
  phases: RestorePhases;
  /** Highest RSS sampled (every 50 ms) in each phase, in KB: where the peak comes from. */
  rssKbByPhase: Partial<Record<'validate' | 'safety' | 'load' | 'afterLoad', number>>;
  /** The job's own message (rows, tables, safety backup, sessions logged out). */
  message: string;
  /**
   * Core-seconds the whole machine was busy in each phase (Kiln and PostgreSQL together; null off
   * Linux): how much of two cores' capacity the phase used. `job` is the whole job.
   */
  machineCpuByPhase: Partial<Record<'job' | 'validate' | 'safety' | 'load' | 'afterLoad', number>>;
  /** The same for Kiln's own process alone: the rest of the machine's is PostgreSQL's. */
  kilnCpuByPhase: Partial<Record<'job' | 'validate' | 'safety' | 'load' | 'afterLoad', number>>;
  /** Peak RSS in KB once the gateway had started, before the restore. */
  startedRssKb: number;
  /** Peak RSS in KB over the whole process, restore included. */
  maxRssKb: number;
  /**
   * How late the event loop (the one that serves the API) ran its callbacks during the restore, in ms:
   * p99 and max. Every API request waits at least this long behind the restore's work on the loop.
   */
  loopDelayMs: { p99: number; max: number };
}>;

async function restoreOnce(): Promise<RestoreChildResult> {
  const backupId = process.env.BENCH_BACKUP_ID;
  if (!backupId) return { ok: false, error: 'BENCH_BACKUP_ID is not set' };
  const config = loadConfig();
  const kiln = await startKiln(config, createLogger(config.log.level));
  const meta: RequestMeta = { ipAddress: null, userAgent: BENCH_USER_AGENT };
  let actor: Identity | undefined;
  let jobId: string | undefined;
  try {
    const [admin] = await kiln.dataSource.query(
      `SELECT id FROM "User" WHERE role = 'ADMIN' AND "isActive" AND "deletedAt" IS NULL ORDER BY "createdAt", id LIMIT 1`,
    );
    if (!admin) return { ok: false, error: 'the bench database has no active ADMIN user' };
    actor = { userId: admin.id, role: Role.ADMIN, jwtId: 'bench' };
    await kiln.services.maintenance.set(true, 'bench', actor, meta);

    const marks = instrumentRestore(kiln.services.backups);
    // RSS every 50 ms, given to phases afterwards, once their bounds are known.
    // And the machine's busy CPU, for the same phases.
    const samples: Array<[at: number, rssKb: number, machineBusy: number | null, kilnBusy: number]> = [];
    const kilnBusy = () => {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1e6;
    };
    const sample = () => samples.push([performance.now(), Math.round(process.memoryUsage.rss() / 1024), machineBusySeconds(), kilnBusy()]);
    const sampler = setInterval(sample, 50);
    sample();
    const startedRssKb = process.resourceUsage().maxRSS;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const job = await kiln.services.restore.restore(backupId, null, actor, meta);
    jobId = job.id;
    await kiln.services.jobs.settled(job.id);
    const ended = performance.now();
    sample();
    loop.disable();
    clearInterval(sampler);
    const used = process.cpuUsage(cpu);
    const maxRssKb = process.resourceUsage().maxRSS;

    const row = await kiln.services.jobs.get(job.id);
    if (row?.status !== JobStatus.COMPLETED) {
      return { ok: false, error: `restore job ended ${row?.status ?? 'without a row'}: ${row?.error ?? ''}` };
    }
    const rssKbByPhase: Extract<RestoreChildResult, { ok: true }>['rssKbByPhase'] = {};
    const machineCpuByPhase: Extract<RestoreChildResult, { ok: true }>['machineCpuByPhase'] = {};
    const kilnCpuByPhase: Extract<RestoreChildResult, { ok: true }>['kilnCpuByPhase'] = {};
    // CPU used since the sample before, counted to the phase this one falls in (50 ms grain), and to the job.
    const add = (to: typeof kilnCpuByPhase, phase: keyof typeof kilnCpuByPhase, seconds: number) => {
      to[phase] = (to[phase] ?? 0) + seconds;
      to.job = (to.job ?? 0) + seconds;
    };
    samples.forEach(([at, kb, busy, kiln], i) => {
      const phase = phaseAt(marks, at, 'validate');
      rssKbByPhase[phase] = Math.max(rssKbByPhase[phase] ?? 0, kb);
      if (i === 0) return;
      const [, , busyBefore, kilnBefore] = samples[i - 1];
      add(kilnCpuByPhase, phase, kiln - kilnBefore);
      if (busy !== null && busyBefore !== null) add(machineCpuByPhase, phase, busy - busyBefore);
    });
    return {
      ok: true,
      seconds: (ended - started) / 1000,
      cpuSeconds: (used.user + used.system) / 1e6,
      phases: restorePhaseSeconds(marks, ended),
      rssKbByPhase,
      machineCpuByPhase,
      kilnCpuByPhase,
      message: row.message ?? '',
      startedRssKb,
      maxRssKb,
      loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    };
  } finally {
    await cleanUp(kiln, backupId, jobId, actor, meta).finally(() => kiln.close());
  }
}


/**
 * The bench database only lends its data: the backups (restored and PRE_RESTORE) and their
 * records go, so do the jobs; maintenance mode goes off again. Files live in the parent's scratch folder.
 */
async function cleanUp(
  kiln: Awaited<ReturnType<typeof startKiln>>,
  backupId: string,
  restoreJobId: string | undefined,
  actor: Identity | undefined,
  meta: RequestMeta,
): Promise<void> {
  const records = kiln.services.backups.records;
  const restored = await records.get(backupId);
  const safety = restoreJobId ? await records.findByJob(restoreJobId) : [];
  for (const id of [backupId, ...safety.map((r) => r.id)]) await records.delete(id);
  const jobIds = [restoreJobId, restored?.jobId].filter((id): id is string => !!id);
  if (jobIds.length) await kiln.dataSource.getRepository(Job).delete({ id: In(jobIds) });
  if (actor) await kiln.services.maintenance.set(false, null, actor, meta);
}

restoreOnce().then(reportAndExit, (err: unknown) => reportAndExit(failure(err)));
