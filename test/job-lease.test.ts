import { readdirSync } from 'node:fs';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken, startTestKiln, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

/*
 * The job heartbeat across instances: a cancel asked on another instance, and
 * a lease another holder took, both reach the instance running the job.
 */

const ENV = { JOB_LEASE_TTL_SECONDS: '3' };
let s: SeededKiln;
let other: TestKiln;

beforeAll(async () => {
  s = await startSeededKiln(5, ENV);
  other = await startTestKiln(ENV, s.kiln.databaseUrl);
});
afterAll(async () => {
  await other?.close();
  await s?.close();
});

const partialFiles = () => readdirSync(s.kiln.backupDir).filter((name) => name.endsWith('.partial'));

it('a job cancelled through another instance stops on the one running it', async () => {
  const token = await loginToken(other.url);
  const job = await whileTableLocked(s, async () => {
    const { jobId } = await startBackup(s);
    const res = await gql(other.url, 'mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: jobId }, token);
    expect(res.errors).toBeUndefined();
    // Noticed by the heartbeat while the export still waits on the lock.
    await until('the job to stop', () => s.kiln.services.jobs.get(jobId), (j) => j?.status !== 'RUNNING', 15_000);
    return finishedJob(s, jobId);
  });
  expect(job).toMatchObject({ status: 'CANCELLED', error: 'cancelled by an administrator' });
  expect(partialFiles()).toEqual([]);
});

it('a job whose lease was taken from it stops as interrupted and leaves no partial file', async () => {
  const job = await whileTableLocked(s, async () => {
    const { jobId } = await startBackup(s);
    await s.db.query(`UPDATE kiln_leases SET "jobId" = 'someone-else', holder = 'elsewhere' WHERE "jobId" = $1`, [jobId]);
    await until('the job to stop', () => s.kiln.services.jobs.get(jobId), (j) => j?.status !== 'RUNNING', 15_000);
    return finishedJob(s, jobId);
  });
  expect(job.status).toBe('FAILED');
  expect(job.error).toMatch(/^interrupted: the job lease was lost/);
  expect(partialFiles()).toEqual([]);
  await s.db.query(`UPDATE kiln_leases SET "jobId" = NULL WHERE "jobId" = 'someone-else'`);
});

it('a job another instance already failed as interrupted stops, and keeps that verdict', async () => {
  const job = await whileTableLocked(s, async () => {
    const { jobId } = await startBackup(s);
    // As if this instance had stalled past the TTL and another one had swept the job.
    await s.db.query(`UPDATE kiln_jobs SET status = 'FAILED', error = 'interrupted: swept elsewhere' WHERE id = $1`, [jobId]);
    // Ends while its export still waits on the lock: only the heartbeat can have stopped it.
    await s.kiln.services.jobs.settled(jobId);
    return finishedJob(s, jobId);
  });
  expect(job).toMatchObject({ status: 'FAILED', error: 'interrupted: swept elsewhere' });
  expect(partialFiles()).toEqual([]);
});
