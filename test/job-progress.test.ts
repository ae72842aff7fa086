import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gql } from './support/test-kiln';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { statementWaitingOnLock } from './support/restore-helpers';
import { eventually } from './support/until';
import { Client } from 'pg';
import { Job } from '../src/jobs/job.entity';
import { JobStatus } from '../src/jobs/job.enums';
import { JobEventBus } from '../src/jobs/job-event-bus';
import { jobProgressStream } from '../src/jobs/job-stream';
import { createLogger } from '../src/logging/logger';

const PROGRESS = 'subscription($id: ID) { jobProgress(jobId: $id) { id kind status phase table percent rowsDone rowsTotal bytesDone etaSeconds backup { id status } } }';

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(600);
});
afterAll(async () => s?.close());

function ws(): WsClient {
  return createClient({ url: `${s.kiln.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${s.token}` } });
}

/** The subscription's events until it completes (or `until` holds); `seen` grows as they arrive. */
function collect(client: WsClient, variables: Record<string, unknown>, until?: (events: any[]) => boolean, seen: any[] = []): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const stop = client.subscribe({ query: PROGRESS, variables }, {
      next: (e) => {
        seen.push(e);
        if (until?.(seen)) {
          stop();
          resolve(seen);
        }
      },
      error: reject,
      complete: () => resolve(seen),
    });
  });
}

it('sends the current state first, progress with phase and table, then the final event, then completes', async () => {
  const client = ws();
  try {
    // The export waits on a lock: progress must keep flowing (≥ 1 event a second) meanwhile.
    const seen: any[] = [];
    const { jobId, backupId, all } = await whileTableLocked(s, async () => {
      const started = await startBackup(s, { includeAuditLogs: true });
      const stream = collect(client, { id: started.jobId }, undefined, seen);
      await statementWaitingOnLock(s.db);
      // Not the current state sent first (the table it names may be a moment old): a later event,
      // sent while blocked, naming the table being read.
      const whenBlocked = Math.max(seen.length, 1);
      await eventually('a progress event while the export is blocked', () => seen.slice(whenBlocked).some((e) => e.data?.jobProgress.table === 'Loan'), 10_000, 20);
      return { ...started, all: stream };
    }, 'Loan');
    const events = await all;
    const jobs = events.map((e) => {
      expect(e.errors).toBeUndefined();
      return e.data.jobProgress;
    });
    expect(jobs[0]).toMatchObject({ id: jobId, kind: 'BACKUP' });
    expect(jobs.at(-1)).toMatchObject({ status: 'COMPLETED', percent: 100, backup: { id: backupId, status: 'COMPLETED' } });
    expect(jobs.filter((j) => j.status === 'COMPLETED')).toHaveLength(1);
    const percents = jobs.map((j) => j.percent);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    // Mid-way events carry the table being read and counters from planner estimates.
    const midway = jobs.filter((j) => j.status === 'RUNNING' && j.table === 'Loan');
    expect(midway.length).toBeGreaterThanOrEqual(1);
    expect(midway[0].rowsTotal).toBeGreaterThan(0);
    expect(midway[0].phase).toBe('export');
    // Subscribing to a finished job gives its final state once and completes.
    const again = await collect(client, { id: jobId });
    expect(again.map((e) => e.data.jobProgress.status)).toEqual(['COMPLETED']);
  } finally {
    await client.dispose();
  }
});

it('without jobId follows every job', async () => {
  const client = ws();
  try {
    const seen: any[] = [];
    void collect(client, {}, undefined, seen).catch(() => undefined);
    // Held by a lock, the job sends an event at least every second: the stream shows it once it is live.
    const { jobId } = await whileTableLocked(s, async () => {
      const started = await startBackup(s);
      await eventually('an event of the job on the stream', () => seen.some((e) => e.data.jobProgress.id === started.jobId));
      return started;
    });
    await eventually('the job\'s end on the stream', () => seen.some((e) => e.data.jobProgress.id === jobId && e.data.jobProgress.status === 'COMPLETED'));
    const events = seen;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.data.jobProgress.id === jobId)).toBe(true);
  } finally {
    await client.dispose();
  }
});

it('answers an unknown job id with NOT_FOUND', async () => {
  const client = ws();
  try {
    await expect(collect(client, { id: 'nope' })).rejects.toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'NOT_FOUND' }) })]);
  } finally {
    await client.dispose();
  }
});

it('keeps the job running when a subscriber disconnects mid-way', async () => {
  const client = ws();
  const { jobId } = await startBackup(s);
  await collect(client, { id: jobId }, (events) => events.length >= 1);
  await client.dispose();
  const job = await finishedJob(s, jobId);
  expect(job.status).toBe('COMPLETED');
  expect((await gql(s.kiln.url, '{ me { email } }', {}, s.token)).data).toEqual({ me: { email: 'root@kiln.test' } });
});

it('ends for a job that ends while its current state is being read: the end is never lost, nor a stale state sent after', async () => {
  const { jobId } = await startBackup(s);
  await finishedJob(s, jobId);
  const ended = await s.kiln.dataSource.getRepository(Job).findOneByOrFail({ id: jobId });
  // A bus of the test's own (the gateway's publishes nothing for this job now), on the gateway's database.
  const bus = new JobEventBus('job-progress-test', createLogger('silent'));
  const db = new Client({ connectionString: s.kiln.databaseUrl });
  await db.connect();
  let stream: AsyncIterator<Job> | undefined;
  try {
    // The row as it was an instant before the job's end; the stream's read of it is held on a lock.
    await db.query(`UPDATE kiln.kiln_jobs SET status = 'RUNNING', "finishedAt" = NULL WHERE id = $1`, [jobId]);
    await db.query('BEGIN');
    await db.query('LOCK TABLE kiln.kiln_jobs IN ACCESS EXCLUSIVE MODE');
    stream = jobProgressStream(s.kiln.dataSource, bus, jobId)[Symbol.asyncIterator]();
    const firstEvent = stream.next();
    // The stream's own read (TypeORM names its columns "Job_…"), not the gateway's sweeps, waits.
    await statementWaitingOnLock(db, '%"Job_id"%');
    // A change older than the row the read will return (it was queued once), then the job's end:
    // both after the stream began, before its read returns RUNNING.
    bus.publish({ ...ended, status: JobStatus.QUEUED, finishedAt: null });
    bus.publish({ ...ended });
    await db.query('COMMIT');
    expect((await firstEvent).value).toMatchObject({ id: jobId, status: 'RUNNING' });
    const end = await Promise.race([stream!.next(), new Promise((resolve) => setTimeout(() => resolve('no end within 10 s'), 10_000).unref())]);
    expect(end).toMatchObject({ done: false, value: { id: jobId, status: 'COMPLETED' } });
    expect(await stream!.next()).toMatchObject({ done: true });
  } finally {
    await stream?.return?.();
    await db.query('ROLLBACK').catch(() => undefined);
    await db.query(`UPDATE kiln.kiln_jobs SET status = $2, "finishedAt" = $3 WHERE id = $1`, [jobId, ended.status, ended.finishedAt]);
    await db.end();
    await bus.close();
  }
});
