import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ConfigError, loadConfig } from '../src/config/config';
import { createLogger } from '../src/logging/logger';
import { WebhookNotifier } from '../src/notify/webhook-notifier';
import { seedDemoData } from '../src/seed/demo-data.seeder';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { inMaintenance, RESTORE } from './support/restore-helpers';
import { CREATE_BACKUP, extraDatabaseName, whileTableLocked } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { gql, loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';
import { closedPort } from './support/closed-port';
import { startReceiver, verifySignature, type Receiver } from './support/webhook-receiver';
import { eventually } from './support/until';

const SECRET = 'whsec-test-0123456789abcdef';

interface LoggedKiln extends TestKiln {
  /** Every log line, parsed. */
  logs: any[];
}

/** startTestKiln, with the log lines kept (debug level) so tests can see what the webhooks did. */
async function startLoggedKiln(env: Record<string, string>, databaseUrl: string): Promise<LoggedKiln> {
  const logs: any[] = [];
  const kiln = await startTestKiln({ BACKUP_WEBHOOK_SECRET: SECRET, ...env }, databaseUrl, logs);
  return { ...kiln, logs };
}

/** Polled every 20 ms: the receiver and the log lines are in memory. */
const POLL_MS = 20;

async function backup(kiln: TestKiln, token: string, input: Record<string, unknown> = {}) {
  const res = await gql(kiln.url, CREATE_BACKUP, { i: input }, token);
  if (!res.data?.createBackup) throw new Error(`createBackup failed: ${JSON.stringify(res.errors)}`);
  const jobId: string = res.data.createBackup.id;
  await kiln.services.jobs.settled(jobId);
  return { jobId, job: (await kiln.services.jobs.get(jobId))! };
}

/** The one log line of a delivery's end (delivered, failed after retries, refused). */
function finalLog(kiln: LoggedKiln, deliveryId: string) {
  return kiln.logs.find((l) => l.deliveryId === deliveryId && (l.event === 'webhook_delivered' || l.event === 'webhook_failed'));
}

let cloud: FakeCloudinary;
let receiver: Receiver;
let kiln: LoggedKiln;
let token: string;

/** Each delivery a test checked, with the tries it expects: checked again after the last test, when a late duplicate would show. */
const expectedAttempts = new Map<string, number>();

/**
 * Waits for the delivery's end (its last try answered, or given up), then checks the receiver had it
 * exactly `attempts` times: each test checks its own deliveries, so none waits on another's.
 */
async function expectSentExactly(id: string, attempts: number): Promise<void> {
  await eventually(`the end of delivery ${id}`, () => finalLog(kiln, id) !== undefined, 30_000, POLL_MS);
  expect([id, receiver.attemptsOf(id).length]).toEqual([id, attempts]);
  expectedAttempts.set(id, attempts);
}

beforeAll(async () => {
  cloud = await startCloudinaryServer();
  receiver = await startReceiver(SECRET);
  kiln = await startLoggedKiln(
    {
      BACKUP_WEBHOOK_URL: receiver.url,
      BACKUP_WEBHOOK_ATTEMPTS: '3',
      BACKUP_WEBHOOK_TIMEOUT_SECONDS: '1',
      BACKUP_WEBHOOK_BACKOFF_MS: '50',
      CLOUDINARY_URL: cloud.cloudinaryUrl,
      CLOUD_RETRY_ATTEMPTS: '1',
    },
    await freshDatabase(),
  );
  const db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  try {
    await seedDemoData(db, { members: 20, seed: 5 });
  } finally {
    await db.end();
  }
  token = await loginToken(kiln.url);
});

afterAll(async () => {
  await kiln?.close();
  try {
    // After every test, in whatever order they ran, and once the gateway stopped (nothing more is
    // sent): each delivery sent exactly as often as its test saw (a late duplicate shows here),
    // every delivery signed, the secret in no log line, the gateway's last ones included.
    if (kiln) {
      for (const [id, attempts] of expectedAttempts) expect([id, receiver.attemptsOf(id).length]).toEqual([id, attempts]);
      expect(receiver.deliveries.every((d) => d.signed)).toBe(true);
      expect(kiln.logs.some((l) => JSON.stringify(l).includes(SECRET))).toBe(false);
    }
  } finally {
    await receiver?.close();
    await cloud?.close();
  }
});

describe('job events', () => {
  it('announce a completed backup once, signed, with its facts', async () => {
    const { jobId, job } = await backup(kiln, token);
    expect(job.status).toBe('COMPLETED');
    await eventually('backup.completed', () => receiver.find('backup.completed', (d) => d.jobId === jobId).length > 0, 30_000, POLL_MS);
    const [delivery] = receiver.find('backup.completed', (d) => d.jobId === jobId);
    const record = (await kiln.services.backups.get(job.backupId!))!;

    expect(delivery.signed).toBe(true);
    // The check is not a formality: another secret or a changed byte fails it.
    expect(verifySignature(delivery.headers, delivery.raw, 'another-secret-of-16+chars')).toBe(false);
    expect(verifySignature(delivery.headers, delivery.raw.replace('COMPLETED', 'COMPLETEd'), SECRET)).toBe(false);
    expect(delivery.headers).toMatchObject({
      'content-type': 'application/json',
      'x-kiln-event': 'backup.completed',
      'x-kiln-delivery': delivery.body.id,
    });
    expect(Math.abs(Number(delivery.headers['x-kiln-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    expect(delivery.body).toEqual({ id: expect.any(String), type: 'backup.completed', occurredAt: expect.any(String), data: expect.any(Object) });
    expect(Date.parse(delivery.body.occurredAt)).not.toBeNaN();
    expect(delivery.body.data).toMatchObject({
      jobId,
      kind: 'BACKUP',
      status: 'COMPLETED',
      error: null,
      errorCode: null,
      message: job.message,
      backupId: record.id,
      filename: record.filename,
      type: 'MANUAL',
      location: 'LOCAL',
      fileSize: record.fileSize,
      checksum: record.checksum,
    });
    expect(record.fileSize).toBeGreaterThan(0);
    expect(record.checksum).toMatch(/^[0-9a-f]{64}$/);
    await expectSentExactly(delivery.body.id, 1);
  });

  it('announce a failed backup with the error', async () => {
    cloud.faults.push({ match: 'upload', kind: '500', times: 100 });
    let failed;
    try {
      failed = await backup(kiln, token, { location: 'CLOUD' });
    } finally {
      cloud.faults.length = 0;
    }
    expect(failed.job.status).toBe('FAILED');
    await eventually('backup.failed', () => receiver.find('backup.failed', (d) => d.jobId === failed.jobId).length > 0, 30_000, POLL_MS);
    const [delivery] = receiver.find('backup.failed', (d) => d.jobId === failed.jobId);
    expect(delivery.signed).toBe(true);
    expect(delivery.headers['x-kiln-event']).toBe('backup.failed');
    expect(delivery.body.data).toMatchObject({
      jobId: failed.jobId,
      kind: 'BACKUP',
      status: 'FAILED',
      error: failed.job.error,
      errorCode: 'STORAGE_UNAVAILABLE',
      backupId: failed.job.backupId,
      type: 'MANUAL',
      location: 'CLOUD',
    });
    expect(delivery.body.data.error).toBeTruthy();
    await expectSentExactly(delivery.body.id, 1);
  });

  it('announce the backup of a dead instance, from the instance that failed it as interrupted', async () => {
    // A finished job made to look like one whose gateway died mid-way (stale heartbeat).
    const { jobId, job } = await backup(kiln, token);
    const db = new Client({ connectionString: kiln.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE kiln_jobs SET status = 'RUNNING', "finishedAt" = NULL, "heartbeatAt" = now() - interval '1 hour' WHERE id = $1`, [jobId]);
      await db.query(`UPDATE backup_records SET status = 'in_progress' WHERE id = $1`, [job.backupId]);
    } finally {
      await db.end();
    }
    await kiln.reaper.reap(); // what every instance's job reaper does twice per lease TTL
    await eventually('backup.failed of the dead job', () => receiver.find('backup.failed', (d) => d.jobId === jobId).length > 0, 30_000, POLL_MS);
    const [delivery] = receiver.find('backup.failed', (d) => d.jobId === jobId);
    expect(delivery.body.data).toMatchObject({ jobId, status: 'FAILED', error: expect.stringMatching(/^interrupted: /), backupId: job.backupId });
    // Swept once: a second sweep finds nothing to announce. Deliveries go out one at a time in
    // the order they were queued: once a later backup's event arrived, one of the sweep would have.
    await kiln.reaper.reap();
    const marker = await backup(kiln, token);
    await eventually('the later backup.completed', () => receiver.find('backup.completed', (d) => d.jobId === marker.jobId).length > 0, 30_000, POLL_MS);
    expect(receiver.find('backup.failed', (d) => d.jobId === jobId)).toHaveLength(1);
  });

  it('announce a queued backup cancelled before it ran, with its job', async () => {
    // What replaced the FAILED record of a scheduled backup that could not start: its job waits QUEUED.
    const { running, queued } = await whileTableLocked(kiln.databaseUrl, async () => {
      const runningId: string = (await gql(kiln.url, CREATE_BACKUP, { i: {} }, token)).data!.createBackup.id;
      const res = await gql(kiln.url, 'mutation { createBackup(input: { queue: true }) { id status } }', {}, token);
      expect(res.data!.createBackup.status).toBe('QUEUED');
      const queuedId: string = res.data!.createBackup.id;
      expect((await gql(kiln.url, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', { id: queuedId }, token)).data!.cancelJob.status).toBe('CANCELLED');
      return { running: runningId, queued: queuedId };
    });
    await kiln.services.jobs.settled(running);
    await eventually('backup.failed of the cancelled queued backup', () => receiver.find('backup.failed', (d) => d.jobId === queued).length > 0, 30_000, POLL_MS);
    const [delivery] = receiver.find('backup.failed', (d) => d.jobId === queued);
    expect(delivery.signed).toBe(true);
    expect(delivery.body.data).toMatchObject({ jobId: queued, kind: 'BACKUP', status: 'CANCELLED', startedAt: null, error: expect.stringMatching(/cancelled/) });
    await expectSentExactly(delivery.body.id, 1);
    // The running backup's announcement ends here too, before a later test answers backup.completed otherwise.
    await eventually('backup.completed of the running backup', () => receiver.find('backup.completed', (d) => d.jobId === running).length > 0, 30_000, POLL_MS);
    await expectSentExactly(receiver.find('backup.completed', (d) => d.jobId === running)[0].body.id, 1);
  });

  it('announce a restore, after the backup.completed of its PRE_RESTORE safety backup', async () => {
    const source = await backup(kiln, token);
    const restoreJobId = await inMaintenance(kiln.url, token, (fresh) => (token = fresh), async () => {
      const res = await gql(kiln.url, RESTORE, { id: source.job.backupId }, token);
      expect(res.errors).toBeUndefined();
      const id: string = res.data!.restoreBackup.id;
      await kiln.services.jobs.settled(id);
      return id;
    });
    const restoreJob = (await kiln.services.jobs.get(restoreJobId))!;
    expect(restoreJob.status).toBe('COMPLETED');

    await eventually('restore.completed', () => receiver.find('restore.completed', (d) => d.jobId === restoreJobId).length > 0, 30_000, POLL_MS);
    const [restored] = receiver.find('restore.completed', (d) => d.jobId === restoreJobId);
    const [safety] = receiver.find('backup.completed', (d) => d.jobId === restoreJobId);
    const sourceRecord = (await kiln.services.backups.get(source.job.backupId!))!;
    expect(restored.signed).toBe(true);
    expect(restored.body.data).toMatchObject({
      jobId: restoreJobId,
      kind: 'RESTORE',
      status: 'COMPLETED',
      error: null,
      message: restoreJob.message,
      backupId: sourceRecord.id,
      filename: sourceRecord.filename,
      safetyBackupId: expect.any(String),
    });
    expect(safety.signed).toBe(true);
    expect(safety.body.data).toMatchObject({ jobId: restoreJobId, kind: 'RESTORE', status: 'COMPLETED', type: 'PRE_RESTORE', backupId: restored.body.data.safetyBackupId });
    expect(safety.receivedAt).toBeLessThanOrEqual(restored.receivedAt);
    for (const d of [restored, safety]) await expectSentExactly(d.body.id, 1);
  });
});

describe('delivery', () => {
  afterEach(() => {
    receiver.answer = () => 200;
  });

  it('retries 500s with the same delivery id, fresh signatures, while the job does not wait', async () => {
    // Each 500 comes after 0.6 s (within the 1 s timeout), so the delivery takes over a second.
    receiver.answer = (body, attempt) => (body?.type === 'backup.completed' && attempt <= 2 ? { status: 500, delayMs: 600 } : 200);
    const { jobId, job } = await backup(kiln, token);
    expect(job.status).toBe('COMPLETED');
    await eventually('the third attempt', () => receiver.find('backup.completed', (d) => d.jobId === jobId).length >= 3, 30_000, POLL_MS);
    const attempts = receiver.find('backup.completed', (d) => d.jobId === jobId);
    const ids = new Set(attempts.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect(new Set(attempts.map((a) => a.headers['x-kiln-delivery']))).toEqual(ids);
    expect(attempts.every((a) => a.signed)).toBe(true);
    expect(attempts.map((a) => a.raw)).toEqual([attempts[0].raw, attempts[0].raw, attempts[0].raw]);
    // The job did not wait for its delivery: its end was saved before the first try was even sent.
    // (Told by the clock, not by how many tries had come when backup() returned: under load that
    // return can come after all three.)
    expect(job.finishedAt!.getTime()).toBeLessThanOrEqual(attempts[0].receivedAt);
    const [id] = ids;
    await expectSentExactly(id, 3);
    expect(finalLog(kiln, id)).toMatchObject({ event: 'webhook_delivered', attempt: 3, status: 200, jobId });
    expect(kiln.logs.filter((l) => l.deliveryId === id && l.event === 'webhook_retry').map((l) => l.status)).toEqual([500, 500]);
  });

  it('gives up after BACKUP_WEBHOOK_ATTEMPTS tries at a receiver that hangs; the job is not held up', async () => {
    receiver.answer = (body) => (body?.type === 'backup.completed' ? 'hang' : 200);
    const { jobId, job } = await backup(kiln, token);
    expect(job.status).toBe('COMPLETED');
    await eventually('the first try', () => receiver.find('backup.completed', (d) => d.jobId === jobId).length > 0, 30_000, POLL_MS);
    const [first] = receiver.find('backup.completed', (d) => d.jobId === jobId);
    const id = first.body.id;
    // The tries take at least 3 × 1 s; the job was over before the first began.
    expect(job.finishedAt!.getTime()).toBeLessThanOrEqual(first.receivedAt);
    expect(receiver.attemptsOf(id).length).toBeLessThan(3);
    await expectSentExactly(id, 3);
    expect(finalLog(kiln, id)).toMatchObject({ event: 'webhook_failed', attempt: 3, jobId, reason: expect.stringMatching(/no answer within 1 s/) });
    const health = await fetch(`${kiln.url}/health`);
    expect(health.status).toBe(200);
  });

  it('waits as long as Retry-After says on a 429', async () => {
    receiver.answer = (body, attempt) => (body?.type === 'backup.completed' && attempt === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 200);
    const { jobId } = await backup(kiln, token);
    await eventually('the retry', () => receiver.find('backup.completed', (d) => d.jobId === jobId).length >= 2, 30_000, POLL_MS);
    const [first, second] = receiver.find('backup.completed', (d) => d.jobId === jobId);
    expect(second.body.id).toBe(first.body.id);
    // The backoff here is 50 ms: only Retry-After explains a second's wait.
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(950);
    expect(kiln.logs.find((l) => l.deliveryId === first.body.id && l.event === 'webhook_retry')).toMatchObject({ status: 429, delayMs: 1000 });
    await expectSentExactly(first.body.id, 2);
  });

  it('does not retry a 400', async () => {
    receiver.answer = (body) => (body?.type === 'backup.completed' ? 400 : 200);
    const { jobId, job } = await backup(kiln, token);
    expect(job.status).toBe('COMPLETED');
    await eventually('the try', () => receiver.find('backup.completed', (d) => d.jobId === jobId).length > 0, 30_000, POLL_MS);
    const id = receiver.find('backup.completed', (d) => d.jobId === jobId)[0].body.id;
    await expectSentExactly(id, 1);
    expect(finalLog(kiln, id)).toMatchObject({ event: 'webhook_failed', attempt: 1, status: 400 });
  });

  it('keeps jobs and the gateway working while the receiver is down, and stops after the attempts', async () => {
    const other = await startLoggedKiln(
      { BACKUP_WEBHOOK_URL: `http://127.0.0.1:${await closedPort()}/hooks`, BACKUP_WEBHOOK_ATTEMPTS: '4', BACKUP_WEBHOOK_BACKOFF_MS: '20' },
      kiln.databaseUrl,
    );
    try {
      const { jobId, job } = await backup(other, token);
      expect(job.status).toBe('COMPLETED');
      await eventually('the delivery to be given up', () => other.logs.some((l) => l.jobId === jobId && l.event === 'webhook_failed'), 30_000, POLL_MS);
      const failed = other.logs.find((l) => l.jobId === jobId && l.event === 'webhook_failed');
      expect(failed).toMatchObject({ eventType: 'backup.completed', attempt: 4, reason: 'ECONNREFUSED' });
      expect(other.logs.filter((l) => l.deliveryId === failed.deliveryId && l.event === 'webhook_retry').map((l) => l.delayMs)).toEqual([20, 40, 80]);
      expect((await fetch(`${other.url}/health`)).status).toBe(200);
      const me = await gql(other.url, '{ me { email } }', {}, token);
      expect(me.data?.me.email).toBe(TEST_ADMIN.email);
      // Another job runs right away.
      expect((await backup(other, token)).job.status).toBe('COMPLETED');
    } finally {
      await other.close();
    }
    expect(other.logs.some((l) => JSON.stringify(l).includes(SECRET))).toBe(false);
  });
});

describe('the notifier on its own', () => {
  let target: Receiver;
  let logs: any[];
  const logger = () => createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const health = (n: number) => ({ healthy: true, problems: [`#${n}`], lastSuccessfulBackupAt: null, lastFailedBackupAt: null, failedLast24h: 0 });

  beforeEach(async () => {
    target = await startReceiver(SECRET);
    logs = [];
  });
  afterEach(async () => target?.close());

  it('drops the oldest waiting delivery when its queue is full', async () => {
    target.answer = (body) => (body?.data?.problems?.[0] === '#1' ? 'hang' : 200);
    const notifier = new WebhookNotifier({ url: target.url, secret: SECRET, attempts: 1, timeoutMs: 500, backoffMs: 10, queueSize: 2 }, logger());
    try {
      const first = notifier.notify('health.healthy', health(1))!;
      await eventually('the first delivery to be in flight', () => target.attemptsOf(first).length === 1, 30_000, POLL_MS);
      const [dropped, kept1, kept2] = [2, 3, 4].map((n) => notifier.notify('health.healthy', health(n))!);
      await eventually('the last delivery', () => target.attemptsOf(kept2).length === 1, 30_000, POLL_MS);
      expect(logs.find((l) => l.event === 'webhook_dropped')).toMatchObject({ deliveryId: dropped, queueSize: 2 });
      expect(target.attemptsOf(dropped)).toHaveLength(0);
      expect(target.attemptsOf(kept1)).toHaveLength(1);
      expect(target.deliveries.map((d) => d.body.data.problems[0])).toEqual(['#1', '#3', '#4']);
    } finally {
      await notifier.close();
    }
  });

  it('abandons a waiting retry at close, and closes at once', async () => {
    target.answer = () => 503;
    const notifier = new WebhookNotifier({ url: target.url, secret: SECRET, attempts: 6, timeoutMs: 5000, backoffMs: 60_000 }, logger());
    const id = notifier.notify('health.healthy', health(1))!;
    await eventually('the first retry to be planned', () => logs.some((l) => l.deliveryId === id && l.event === 'webhook_retry'), 30_000, POLL_MS);
    const started = Date.now();
    await notifier.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logs.find((l) => l.deliveryId === id && l.event === 'webhook_abandoned')).toMatchObject({ attempts: 1 });
    expect(target.attemptsOf(id)).toHaveLength(1);
    expect(notifier.notify('health.healthy', health(2))).toBeNull();
  });
});

describe('health transitions across two instances', () => {
  let healthReceiver: Receiver;
  let a: LoggedKiln;
  let b: LoggedKiln;

  beforeAll(async () => {
    healthReceiver = await startReceiver(SECRET);
    const databaseUrl = await freshDatabase(extraDatabaseName('webhook_health'));
    const env = {
      BACKUP_WEBHOOK_URL: healthReceiver.url,
      BACKUP_WEBHOOK_BACKOFF_MS: '50',
      HEALTH_CHECK_SECONDS: '0.2',
      CLOUDINARY_URL: cloud.cloudinaryUrl,
      CLOUD_RETRY_ATTEMPTS: '1',
      BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    };
    a = await startLoggedKiln(env, databaseUrl);
    b = await startLoggedKiln(env, databaseUrl);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await healthReceiver?.close();
  });

  /** Waits until both instances evaluated health a few more times, so a duplicate would have been sent by now. */
  async function bothCheckedAgain(): Promise<void> {
    const marks = [a.logs.length, b.logs.length];
    const checks = (k: LoggedKiln, from: number) => k.logs.slice(from).filter((l) => l.event === 'health_checked').length;
    await eventually('more health checks on both instances', () => checks(a, marks[0]) >= 3 && checks(b, marks[1]) >= 3, 30_000, POLL_MS);
  }

  const count = (type: string) => new Set(healthReceiver.find(type).map((d) => d.body.id)).size;

  it('send each transition once: unhealthy at the start, healthy after a good backup, unhealthy after a failed one', async () => {
    // A fresh database: the first evaluation records the state and, being unhealthy, says so.
    await eventually('health.unhealthy', () => count('health.unhealthy') > 0, 30_000, POLL_MS);
    await bothCheckedAgain();
    expect(count('health.unhealthy')).toBe(1);
    expect(count('health.healthy')).toBe(0);
    expect(healthReceiver.find('health.unhealthy')[0].body.data).toMatchObject({ healthy: false, problems: ['No backup has completed yet'] });

    const healthToken = await loginToken(a.url);
    expect((await backup(a, healthToken, { location: 'BOTH' })).job.status).toBe('COMPLETED');
    await eventually('health.healthy', () => count('health.healthy') > 0, 30_000, POLL_MS);
    await bothCheckedAgain();
    expect([count('health.unhealthy'), count('health.healthy')]).toEqual([1, 1]);
    const healthy = healthReceiver.find('health.healthy')[0];
    expect(healthy.signed).toBe(true);
    expect(healthy.body.data).toMatchObject({ healthy: true, problems: [], failedLast24h: 0, lastSuccessfulBackupAt: expect.any(String) });

    cloud.faults.push({ match: 'upload', kind: '500', times: 100 });
    let failed;
    try {
      failed = await backup(b, healthToken, { location: 'CLOUD' });
    } finally {
      cloud.faults.length = 0;
    }
    expect(failed.job.status).toBe('FAILED');
    await eventually('the second health.unhealthy', () => count('health.unhealthy') > 1, 30_000, POLL_MS);
    await bothCheckedAgain();
    expect([count('health.unhealthy'), count('health.healthy')]).toEqual([2, 1]);
    const unhealthy = healthReceiver.find('health.unhealthy').at(-1)!;
    expect(unhealthy.signed).toBe(true);
    expect(unhealthy.body.data).toMatchObject({ healthy: false, failedLast24h: 1, problems: expect.arrayContaining(['1 backup(s) failed in the last 24 hours']) });
    // Job events come only from the instance that ran the job.
    expect(healthReceiver.find('backup.completed')).toHaveLength(1);
    expect(healthReceiver.find('backup.failed')).toHaveLength(1);
    expect(healthReceiver.find('backup.failed')[0].body.data.jobId).toBe(failed.jobId);
  });
});

describe('configuration', () => {
  const base = { NODE_ENV: 'test' as const };

  it('refuses a webhook URL without a secret, or with a short one', () => {
    expect(() => loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'https://hooks.example.com/kiln' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'https://hooks.example.com/kiln' })).toThrow(
      /BACKUP_WEBHOOK_SECRET: required when BACKUP_WEBHOOK_URL is set/,
    );
    expect(() => loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'https://hooks.example.com/kiln', BACKUP_WEBHOOK_SECRET: 'short' })).toThrow(
      /BACKUP_WEBHOOK_SECRET: BACKUP_WEBHOOK_SECRET must be at least 16 characters/,
    );
    expect(() => loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'ftp://hooks.example.com/kiln', BACKUP_WEBHOOK_SECRET: SECRET })).toThrow(
      /BACKUP_WEBHOOK_URL must be an http\(s\) URL/,
    );
    expect(() => loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'http://kiln:pw@hooks.example.com/kiln', BACKUP_WEBHOOK_SECRET: SECRET })).toThrow(
      /credentials in the URL are sent as Basic auth, so only over https/,
    );
    expect(loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'https://kiln:pw@hooks.example.com/kiln', BACKUP_WEBHOOK_SECRET: SECRET }).webhook).toBeDefined();
  });

  it('has no webhooks without a URL, and sensible defaults with one', () => {
    expect(loadConfig(base).webhook).toBeUndefined();
    const config = loadConfig({ ...base, BACKUP_WEBHOOK_URL: 'https://hooks.example.com/kiln', BACKUP_WEBHOOK_SECRET: SECRET });
    expect(config.webhook).toEqual({ url: 'https://hooks.example.com/kiln', secret: SECRET, attempts: 6, timeoutMs: 10_000, backoffMs: 1000 });
    expect(config.healthCheckMs).toBe(60_000);
  });
});
