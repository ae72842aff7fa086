/**
 * One Kiln restore of an UPLOADED backup file in a process of its own, so maxRSS is the gateway's
 * and the restore's alone (the client is the parent process). Configured by the environment like
 * `npm start`; must be forked: the parent uploads the file.
 *
 * The restore runs as an admin would run it through the API: a session for the seed's admin (as
 * a login makes one; the seed's passwords are random, so the row is written here), maintenance
 * mode on; then the child tells the parent {kind: 'ready', url, token}, the parent POSTs the file
 * to /graphql as a multipart `restoreBackup(file:)` (graphql-multipart-request-spec, as Apollo
 * clients send uploads) and answers {kind: 'uploaded', jobId} (or {kind: 'uploadFailed', error});
 * the child waits for the job and reports an {@link UploadRestoreChildResult} over IPC.
 *
 * Time, CPU and RSS are counted from the moment the child says it is ready: the upload's
 * reception (multipart parsing, storing it once in graphql-upload's temp file) is part of the figures. Phases are
 * timed from the outside as bench/restore-child.ts does (its hooks, copied, plus one on
 * receiveUpload); a hook that stops matching the code reads n/a and the total is still right.
 *
 * BENCH_DELETE_BACKUP_ID: a stored backup (and its job) to delete at the end, e.g. the Kiln backup
 * whose file the parent uploaded. The restore replaces StaffSession with the file's rows, so the
 * session made here goes with it.
 */
import { instrumentRestore, phaseAt, restorePhaseSeconds } from './restore-phases';
import 'reflect-metadata';
import '../src/config/utc';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { In } from 'typeorm';
import type { Identity, RequestMeta } from '../src/auth/identity';
import { TokenService } from '../src/auth/token.service';
import { loadConfig } from '../src/config/config';
import { newId } from '../src/db/ids';
import { StaffSession } from '../src/domain';
import { Role } from '../src/domain/lending-enums';
import { Job } from '../src/jobs/job.entity';
import { JobStatus } from '../src/jobs/job.enums';
import { startKiln } from '../src/kiln';
import { createLogger } from '../src/logging/logger';
import { BENCH_USER_AGENT, failure, reportAndExit, type ChildResult } from './bench-child';
import type { RestorePhases } from './restore-child';

/** Seconds of each part of the upload and restore (restore-child's phases, plus receiving the upload); null where a hook did not fire. */
export type UploadRestorePhases = RestorePhases & {
  /** From ready to the uploaded file received whole (HTTP transfer, multipart parsing, graphql-upload's temp file). */
  upload: number | null;
};

export type UploadRestorePhase = 'upload' | 'validate' | 'safety' | 'load' | 'afterLoad';

export type UploadRestoreChildResult = ChildResult<{
  seconds: number;
  cpuSeconds: number;
  phases: UploadRestorePhases;
  /** Highest RSS sampled (every 50 ms) in each phase, in KB. */
  rssKbByPhase: Partial<Record<UploadRestorePhase, number>>;
  /** The job's own message (rows, tables, safety backup, sessions logged out). */
  message: string;
  /** Peak RSS in KB once the gateway had started, before the upload. */
  startedRssKb: number;
  /** Peak RSS in KB over the whole process, upload and restore included. */
  maxRssKb: number;
  /** Highest V8 heap (heapTotal) and memory outside it (external, array buffers included) sampled, in KB: what the RSS is made of. */
  heapTotalKb: number;
  externalKb: number;
}>;

/** What the child tells the parent before the result. */
export interface UploadChildReady {
  kind: 'ready';
  url: string;
  token: string;
}

/** The parent's answer once the upload request returned. */
export type UploadParentAnswer = { kind: 'uploaded'; jobId: string } | { kind: 'uploadFailed'; error: string };

/** BENCH_MEMORY_TRACE=<path prefix>: every 50 ms sample of process.memoryUsage() (KB) and the phase marks, to <prefix>-<pid>.csv. */
const MEMORY_TRACE = process.env.BENCH_MEMORY_TRACE;

async function restoreUpload(): Promise<UploadRestoreChildResult> {
  if (!process.send) return { ok: false, error: 'upload-restore-child must be forked: the parent uploads the file' };
  const config = loadConfig();
  if (!config.auth.jwtSecret) return { ok: false, error: 'JWT_SECRET is not set' };
  const kiln = await startKiln(config, createLogger(config.log.level));
  const meta: RequestMeta = { ipAddress: null, userAgent: BENCH_USER_AGENT };
  let actor: Identity | undefined;
  let jobId: string | undefined;
  try {
    const [admin] = await kiln.dataSource.query(
      `SELECT id FROM "User" WHERE role = 'ADMIN' AND "isActive" AND "deletedAt" IS NULL ORDER BY "createdAt", id LIMIT 1`,
    );
    if (!admin) return { ok: false, error: 'the bench database has no active ADMIN user' };
    const jwtId = newId();
    const signed = new TokenService(config.auth.jwtSecret, config.auth.tokenTtlSeconds).sign({ userId: admin.id, jwtId });
    await kiln.dataSource
      .getRepository(StaffSession)
      .insert({ id: newId(), userId: admin.id, jwtId, userAgent: BENCH_USER_AGENT, ipAddress: null, expiresAt: signed.expiresAt });
    actor = { userId: admin.id, role: Role.ADMIN, jwtId };
    await kiln.services.maintenance.set(true, 'bench', actor, meta);

    const marks = instrumentRestore(kiln.services.backups);
    const samples: Array<[at: number, rssKb: number]> = [];
    let [heapTotalKb, externalKb] = [0, 0];
    const trace: string[] = ['ms,rssKb,heapTotalKb,heapUsedKb,externalKb,arrayBuffersKb'];
    const sampler = setInterval(() => {
      const memory = process.memoryUsage();
      const now = performance.now();
      samples.push([now, Math.round(memory.rss / 1024)]);
      heapTotalKb = Math.max(heapTotalKb, Math.round(memory.heapTotal / 1024));
      externalKb = Math.max(externalKb, Math.round(memory.external / 1024));
      if (MEMORY_TRACE) trace.push([now, memory.rss, memory.heapTotal, memory.heapUsed, memory.external, memory.arrayBuffers].map((v, i) => Math.round(i ? v / 1024 : v)).join(','));
    }, 50);
    const answer = new Promise<UploadParentAnswer>((resolve) => process.once('message', (m) => resolve(m as UploadParentAnswer)));
    const startedRssKb = process.resourceUsage().maxRSS;
    const cpu = process.cpuUsage();
    const started = performance.now();
    process.send({ kind: 'ready', url: kiln.url, token: signed.token } satisfies UploadChildReady);
    const uploaded = await answer;
    if (uploaded.kind !== 'uploaded') {
      clearInterval(sampler);
      return { ok: false, error: `the upload failed: ${uploaded.error}` };
    }
    jobId = uploaded.jobId;
    await kiln.services.jobs.settled(jobId);
    const ended = performance.now();
    clearInterval(sampler);
    const used = process.cpuUsage(cpu);
    const maxRssKb = process.resourceUsage().maxRSS;
    if (MEMORY_TRACE) {
      const at = (name: string, t: number | undefined) => (t === undefined ? [] : [`# ${name} ${Math.round(t)}`]);
      const m = marks;
      const events = [...at('started', started), ...at('uploadEnd', m.uploadEnd), ...at('validateStart', m.validateStart), ...at('validateEnd', m.validateEnd)];
      events.push(...at('safetyStart', m.safetyStart), ...at('safetyEnd', m.safetyEnd), ...at('loadEnd', m.loadEnd), ...at('ended', ended));
      await writeFile(`${MEMORY_TRACE}-${process.pid}.csv`, [...events, ...trace].join('\n') + '\n');
    }

    const row = await kiln.services.jobs.get(jobId);
    if (row?.status !== JobStatus.COMPLETED) {
      return { ok: false, error: `restore job ended ${row?.status ?? 'without a row'}: ${row?.error ?? ''}` };
    }
    const rssKbByPhase: Partial<Record<UploadRestorePhase, number>> = {};
    for (const [at, kb] of samples) {
      const phase: UploadRestorePhase = phaseAt(marks, at, 'upload');
      rssKbByPhase[phase] = Math.max(rssKbByPhase[phase] ?? 0, kb);
    }
    return {
      ok: true,
      seconds: (ended - started) / 1000,
      cpuSeconds: (used.user + used.system) / 1e6,
      phases: {
        upload: marks.uploadEnd !== undefined ? (marks.uploadEnd - started) / 1000 : null,
        ...restorePhaseSeconds(marks, ended),
      },
      rssKbByPhase,
      message: row.message ?? '',
      startedRssKb,
      maxRssKb,
      heapTotalKb,
      externalKb,
    };
  } finally {
    await cleanUp(kiln, jobId, actor, meta).finally(() => kiln.close());
  }
}


/**
 * The bench database only lends its data: the PRE_RESTORE safety backup's record, the backup named
 * by BENCH_DELETE_BACKUP_ID and their jobs go; maintenance mode goes off again. Files live in the
 * parent's scratch folder.
 */
async function cleanUp(kiln: Awaited<ReturnType<typeof startKiln>>, restoreJobId: string | undefined, actor: Identity | undefined, meta: RequestMeta): Promise<void> {
  const records = kiln.services.backups.records;
  const uploadedId = process.env.BENCH_DELETE_BACKUP_ID;
  const uploaded = uploadedId ? await records.get(uploadedId) : null;
  const safety = restoreJobId ? await records.findByJob(restoreJobId) : [];
  for (const id of [...(uploaded ? [uploaded.id] : []), ...safety.map((r) => r.id)]) await records.delete(id);
  const jobIds = [restoreJobId, uploaded?.jobId].filter((id): id is string => !!id);
  if (jobIds.length) await kiln.dataSource.getRepository(Job).delete({ id: In(jobIds) });
  if (actor) await kiln.services.maintenance.set(false, null, actor, meta);
}

restoreUpload().then(reportAndExit, (err: unknown) => reportAndExit(failure(err)));
