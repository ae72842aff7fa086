/**
 * Email (a real SMTP server), Slack-compatible and Telegram messages (local HTTP receivers) of
 * a real gateway's events: readable, retried through the one delivery queue, given-up ones
 * recorded in kiln.kiln_notification_failures, testNotification, and no secret in any log.
 */
import { hostname } from 'node:os';
import { Client } from 'pg';
import { ConfigError, loadConfig } from '../src/config/config';
import { TokenService } from '../src/auth/token.service';
import { newId } from '../src/db/ids';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type MailSeen, type SmtpReceiver } from './support/message-receivers';
import { CREATE_BACKUP, whileTableLocked } from './support/seeded-kiln';
import { freshDatabase } from './support/test-database';
import { errorCode, gql, loginToken, startTestKiln, TEST_ADMIN, TEST_JWT_SECRET, type TestKiln } from './support/test-kiln';
import { eventually } from './support/until';

const SMTP_PASSWORD = 'smtp-pass-Zq81-never-logged';
const BOT_TOKEN = '123456789:AAE-test-bot-token_never_logged';
const SLACK_PATH = '/services/T0001/B0002/slack-secret-path-never-logged';
const CHAT_ID = '-1001234567890';
const HOST = hostname();

let cloud: FakeCloudinary;
let smtp: SmtpReceiver;
let slack: HttpReceiver;
let telegram: HttpReceiver;
let kiln: TestKiln;
const logs: any[] = [];
let token: string;

/** What no log line and no failure row may hold, in part or whole. */
const SECRETS = [SMTP_PASSWORD, BOT_TOKEN, BOT_TOKEN.split(':')[1], SLACK_PATH, 'T0001/B0002', 'slack-secret', 'never-logged', 'never_logged'];
function expectNoSecretIn(lines: unknown[]): void {
  for (const secret of SECRETS) expect([secret, lines.filter((l) => JSON.stringify(l).includes(secret)).length]).toEqual([secret, 0]);
}

/** Polled every 20 ms: the receivers are in memory. */
const POLL_MS = 20;

async function backup(input: Record<string, unknown> = {}) {
  const res = await gql(kiln.url, CREATE_BACKUP, { i: input }, token);
  if (!res.data?.createBackup) throw new Error(`createBackup failed: ${JSON.stringify(res.errors)}`);
  const jobId: string = res.data.createBackup.id;
  await kiln.services.jobs.settled(jobId);
  return { jobId, job: (await kiln.services.jobs.get(jobId))! };
}

async function failedCloudBackup() {
  cloud.faults.push({ match: 'upload', kind: '500', times: 100 });
  try {
    return await backup({ location: 'CLOUD' });
  } finally {
    cloud.faults.length = 0;
  }
}

/** Each channel's messages that mention `text` (a job id, say): every attempt, then the accepted ones. */
const mails = (text: string, all = false): MailSeen[] => (all ? smtp.messages : smtp.accepted).filter((m) => m.mail.text?.includes(text));
const slacks = (text: string, all = false) => slack.requests.filter((r) => r.body?.text?.includes(text) && (all || r.status === 200));
const telegrams = (text: string, all = false) => telegram.requests.filter((r) => r.body?.text?.includes(text) && (all || r.status === 200));

async function query(sql: string, params: unknown[] = []): Promise<any[]> {
  const db = new Client({ connectionString: kiln.databaseUrl });
  await db.connect();
  try {
    return (await db.query(sql, params)).rows;
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  cloud = await startCloudinaryServer();
  smtp = await startSmtpReceiver('kiln', SMTP_PASSWORD);
  slack = await startHttpReceiver();
  telegram = await startHttpReceiver();
  kiln = await startTestKiln(
    {
      NOTIFY_SMTP_URL: `smtp://kiln:${SMTP_PASSWORD}@127.0.0.1:${smtp.port}`,
      NOTIFY_EMAIL_TO: 'ops@example.com, backup-team@example.com',
      NOTIFY_EMAIL_FROM: 'Kiln Backups <kiln@example.com>',
      NOTIFY_SLACK_WEBHOOK_URL: `${slack.url}${SLACK_PATH}`,
      NOTIFY_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      NOTIFY_TELEGRAM_CHAT_ID: CHAT_ID,
      NOTIFY_TELEGRAM_API_URL: telegram.url,
      BACKUP_WEBHOOK_ATTEMPTS: '3',
      BACKUP_WEBHOOK_TIMEOUT_SECONDS: '2',
      BACKUP_WEBHOOK_BACKOFF_MS: '50',
      CLOUDINARY_URL: cloud.cloudinaryUrl,
      CLOUD_RETRY_ATTEMPTS: '1',
    },
    await freshDatabase(),
    logs,
  );
  token = await loginToken(kiln.url);
});

afterAll(async () => {
  try {
    await kiln?.close();
    // After every test, in whatever order they ran, the gateway's last lines included.
    if (kiln) expectNoSecretIn([...logs, ...(await query(`SELECT error FROM kiln.kiln_notification_failures`))]);
  } finally {
    await Promise.all([smtp?.close(), slack?.close(), telegram?.close(), cloud?.close()]);
  }
});

afterEach(() => {
  smtp.answer = () => 250;
  slack.answer = () => ({ status: 200, body: 'ok' });
  telegram.answer = () => ({ status: 200, body: { ok: true, result: {} } });
});

describe('job events reach email, Slack and Telegram', () => {
  it('a completed backup: what, which file, which job', async () => {
    const { jobId, job } = await backup();
    expect(job.status).toBe('COMPLETED');
    const record = (await kiln.services.backups.get(job.backupId!))!;
    await eventually('the three messages', () => mails(jobId).length > 0 && slacks(jobId).length > 0 && telegrams(jobId).length > 0, 30_000, POLL_MS);

    const [email] = mails(jobId);
    expect(email.user).toBe('kiln');
    expect(email.from).toBe('kiln@example.com');
    expect(email.to.sort()).toEqual(['backup-team@example.com', 'ops@example.com']);
    expect(email.mail.subject).toBe(`Kiln backup completed on ${HOST}: ${record.filename}`);
    expect(email.mail.headers.get('x-kiln-event')).toBe('backup.completed');
    expect(email.mail.text).toContain(`Backup ${record.id} (MANUAL) completed at `);
    expect(email.mail.text).toContain(`File: ${record.filename} (`);
    expect(email.mail.text).toContain(`Job: ${jobId} (BACKUP, COMPLETED)`);

    const [chat] = slacks(jobId);
    expect(chat.path).toBe(SLACK_PATH);
    expect(chat.headers['content-type']).toBe('application/json');
    expect(chat.body.text.split('\n')[0]).toBe(`Kiln backup completed on ${HOST}: ${record.filename}`);
    expect(chat.body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: email.mail.subject } });

    const [bot] = telegrams(jobId);
    expect(bot.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    expect(bot.body).toEqual({ chat_id: CHAT_ID, text: expect.any(String), disable_web_page_preview: true });
    expect(bot.body.text).toBe(email.mail.text!.trim());
  });

  it('a failed backup: what failed and what to do, on every channel', async () => {
    const { jobId, job } = await failedCloudBackup();
    expect(job.status).toBe('FAILED');
    expect(job.errorCode).toBe('STORAGE_UNAVAILABLE');
    await eventually('the three messages', () => mails(jobId).length > 0 && slacks(jobId).length > 0 && telegrams(jobId).length > 0, 30_000, POLL_MS);
    const [email] = mails(jobId);
    expect(email.mail.subject).toBe(`Kiln backup FAILED on ${HOST}: STORAGE_UNAVAILABLE`);
    const text = email.mail.text!;
    expect(text).toContain(`What failed: ${job.error}`);
    expect(text).toContain(`Backup ${job.backupId} (MANUAL)`);
    expect(text).toContain(`Job: ${jobId} (BACKUP, FAILED)`);
    expect(text).toMatch(/What to do:\n- Check CLOUDINARY_URL and the network .*then run a backup \(kiln backup --wait\)\./);
    for (const chat of [slacks(jobId)[0].body.text, telegrams(jobId)[0].body.text]) {
      expect(chat).toContain(`Kiln backup FAILED on ${HOST}: STORAGE_UNAVAILABLE`);
      expect(chat).toContain('then run a backup (kiln backup --wait)');
    }
  });
});

/**
 * A backup held on a lock until its id is known: on a loaded machine it could otherwise end, and
 * be announced (answered 200), before the response naming it reached the test.
 */
const startHeldBackup = () => whileTableLocked({ kiln }, async () => (await gql(kiln.url, CREATE_BACKUP, { i: {} }, token)).data!.createBackup.id as string);

describe('delivery', () => {
  it('retries a receiver that fails at first, and delivers each message once', async () => {
    let mark = '';
    // The SMTP server says "try later" twice, Slack and Telegram answer 500 twice (Telegram with its own retry_after).
    smtp.answer = (mail) => (mark && mail.text?.includes(mark) && mails(mark, true).length < 2 ? 451 : 250);
    slack.answer = (body) => (mark && body?.text?.includes(mark) && slacks(mark, true).length < 2 ? { status: 500, body: 'oops' } : { status: 200, body: 'ok' });
    telegram.answer = (body) =>
      mark && body?.text?.includes(mark) && telegrams(mark, true).length < 2
        ? { status: 500, body: { ok: false, error_code: 500, description: 'Internal Server Error' } }
        : { status: 200, body: { ok: true } };
    mark = await startHeldBackup();
    await kiln.services.jobs.settled(mark);
    await eventually('a delivery on every channel', () => mails(mark).length > 0 && slacks(mark).length > 0 && telegrams(mark).length > 0, 30_000, POLL_MS);

    // The queues are sequential: once a later message arrived everywhere, these were final.
    const { jobId: later } = await backup();
    await eventually('the later messages', () => mails(later).length > 0 && slacks(later).length > 0 && telegrams(later).length > 0, 30_000, POLL_MS);
    expect(mails(mark, true).map((m) => m.code)).toEqual([451, 451, 250]);
    expect(slacks(mark, true).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(telegrams(mark, true).map((r) => r.status)).toEqual([500, 500, 200]);
    // The same event each time (one id, one text).
    expect(new Set(mails(mark, true).map((m) => m.mail.headers.get('x-kiln-delivery'))).size).toBe(1);
    expect(new Set(telegrams(mark, true).map((r) => r.body.text)).size).toBe(1);
    const retries = logs.filter((l) => l.jobId === mark && l.event?.endsWith('_retry'));
    expect(retries.map((l) => `${l.channel}:${l.attempt}`).sort()).toEqual(['email:1', 'email:2', 'slack:1', 'slack:2', 'telegram:1', 'telegram:2']);
    expect(retries.find((l) => l.channel === 'email')).toMatchObject({ reason: expect.stringMatching(/^SMTP 451 to DATA: /), target: `127.0.0.1:${smtp.port}` });
    expect(retries.filter((l) => l.channel === 'email').map((l) => l.delayMs)).toEqual([50, 100]);
    expect(await query(`SELECT * FROM kiln.kiln_notification_failures WHERE "eventId" = $1`, [mails(mark)[0].mail.headers.get('x-kiln-delivery')])).toEqual([]);
  });

  it('records one row per channel that keeps failing, and never holds up or fails the job', async () => {
    let mark = '';
    // Telegram answers 500 to every try; Slack refuses outright (a removed webhook).
    telegram.answer = (body) => (mark && body?.text?.includes(mark) ? { status: 500, body: { ok: false, description: 'Internal Server Error' } } : { status: 200, body: { ok: true } });
    slack.answer = (body) => (mark && body?.text?.includes(mark) ? { status: 404, body: 'no_service' } : { status: 200, body: 'ok' });
    mark = await startHeldBackup();
    await kiln.services.jobs.settled(mark);
    const job = (await kiln.services.jobs.get(mark))!;
    expect(job.status).toBe('COMPLETED');
    expect(job.error).toBeNull();

    await eventually('the email', () => mails(mark).length > 0, 30_000, POLL_MS);
    const eventId = mails(mark)[0].mail.headers.get('x-kiln-delivery') as string;
    const rows = () => query(`SELECT channel, "eventType", "eventId", error, "failedAt" FROM kiln.kiln_notification_failures WHERE "eventId" = $1 ORDER BY channel`, [eventId]);
    await eventually('two failure rows', async () => (await rows()).length >= 2, 30_000, POLL_MS);
    // A later event delivered everywhere: the failing ones were final and recorded by then.
    const { jobId: later } = await backup();
    await eventually('the later messages', () => mails(later).length > 0 && slacks(later).length > 0 && telegrams(later).length > 0, 30_000, POLL_MS);
    const found = await rows();
    expect(found).toEqual([
      { channel: 'slack', eventType: 'backup.completed', eventId, error: 'refused: HTTP 404: no_service', failedAt: expect.any(Date) },
      { channel: 'telegram', eventType: 'backup.completed', eventId, error: '3 attempt(s) failed, the last: HTTP 500: Internal Server Error', failedAt: expect.any(Date) },
    ]);
    expect(telegrams(mark, true)).toHaveLength(3);
    expect(slacks(mark, true)).toHaveLength(1);
    // The job ended before its messages were given up.
    expect(job.finishedAt!.getTime()).toBeLessThanOrEqual(found[1].failedAt.getTime());
    expect((await fetch(`${kiln.url}/health`)).status).toBe(200);
  });
});

describe('testNotification', () => {
  const TEST = 'mutation($c: NotificationChannel!) { testNotification(channel: $c) { channel delivered error } }';

  it('sends one message on each configured channel, at once', async () => {
    const before = { mail: smtp.accepted.length, slack: slack.requests.length, telegram: telegram.requests.length };
    for (const channel of ['EMAIL', 'SLACK', 'TELEGRAM']) {
      const res = await gql(kiln.url, TEST, { c: channel }, token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.testNotification).toEqual({ channel, delivered: true, error: null });
    }
    // It answered after the receiver had it: nothing to wait for. Only the test messages count: the
    // gateway's own alert may arrive meanwhile (a fresh database has no backup, so its first health
    // check sends 'UNHEALTHY'; run first under load, this test met that alert).
    const testMessage = (first: string | undefined) => first?.startsWith('Kiln test notification') === true;
    const mail = smtp.accepted.slice(before.mail).filter((m) => testMessage(m.mail.subject));
    expect(mail.map((m) => m.mail.subject)).toEqual([`Kiln test notification from ${HOST}`]);
    expect(mail[0].mail.text).toContain(`sent at the request of ${TEST_ADMIN.email}`);
    const firstLines = (requests: HttpReceiver['requests']) => requests.map((r) => r.body.text.split('\n')[0] as string).filter(testMessage);
    expect(firstLines(slack.requests.slice(before.slack))).toEqual([`Kiln test notification from ${HOST}`]);
    expect(firstLines(telegram.requests.slice(before.telegram))).toEqual([`Kiln test notification from ${HOST}`]);
    // An admin action: in the audit trail.
    const audit = await gql(kiln.url, '{ auditLog(filter: { action: "NOTIFICATION_TESTED" }) { items { entityId actorEmail metadata } } }', {}, token);
    expect(audit.data!.auditLog.items.slice(0, 3).map((e: any) => [e.entityId, e.actorEmail, e.metadata.delivered]).sort()).toEqual([
      ['EMAIL', TEST_ADMIN.email, true],
      ['SLACK', TEST_ADMIN.email, true],
      ['TELEGRAM', TEST_ADMIN.email, true],
    ]);
  });

  it('says why a receiver refused, in one try, without secrets', async () => {
    smtp.answer = () => 550;
    slack.answer = () => ({ status: 403, body: 'invalid_token' });
    telegram.answer = () => ({ status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } });
    const answers: Record<string, unknown> = {};
    for (const channel of ['EMAIL', 'SLACK', 'TELEGRAM']) answers[channel] = (await gql(kiln.url, TEST, { c: channel }, token)).data!.testNotification;
    expect(answers).toEqual({
      EMAIL: { channel: 'EMAIL', delivered: false, error: 'SMTP 550 to DATA: 550 Message rejected by policy' },
      SLACK: { channel: 'SLACK', delivered: false, error: 'HTTP 403: invalid_token' },
      TELEGRAM: { channel: 'TELEGRAM', delivered: false, error: 'HTTP 400: Bad Request: chat not found' },
    });
    // A 5xx would be retried in the queue; a test is one try.
    telegram.answer = () => ({ status: 502, body: 'bad gateway' });
    const before = telegram.requests.length;
    expect((await gql(kiln.url, TEST, { c: 'TELEGRAM' }, token)).data!.testNotification).toEqual({ channel: 'TELEGRAM', delivered: false, error: 'HTTP 502: bad gateway' });
    expect(telegram.requests.length - before).toBe(1);
  });

  it('names the variables to set for a channel that is not configured', async () => {
    const res = await gql(kiln.url, TEST, { c: 'WEBHOOK' }, token);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toBe('The webhook channel is not configured: set BACKUP_WEBHOOK_URL and BACKUP_WEBHOOK_SECRET and restart Kiln');
  });

  it('is for admins only', async () => {
    expect(errorCode(await gql(kiln.url, TEST, { c: 'EMAIL' }))).toBe('UNAUTHENTICATED');
    const userId = newId();
    const jwtId = newId();
    const signed = new TokenService(TEST_JWT_SECRET, 3600).sign({ userId, jwtId });
    await query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ($1, 'officer@kiln.test', 'x', 'CREDIT_OFFICER', now())`, [userId]);
    await query(`INSERT INTO "StaffSession" (id, "userId", "jwtId", "expiresAt") VALUES ($1, $2, $3, $4)`, [newId(), userId, jwtId, signed.expiresAt]);
    const before = smtp.messages.length;
    expect(errorCode(await gql(kiln.url, TEST, { c: 'EMAIL' }, signed.token))).toBe('FORBIDDEN');
    expect(smtp.messages.length).toBe(before);
  });
});

describe('secrets', () => {
  it('never reach a log line or a failure row', async () => {
    // Its own traffic, whatever ran before: every channel retried once (the SMTP login and the bot
    // token in play), then Slack refusing for good, so a failure row is written.
    let mark = '';
    smtp.answer = (mail) => (mark && mail.text?.includes(mark) && mails(mark, true).length < 1 ? 451 : 250);
    slack.answer = (body) => (mark && body?.text?.includes(mark) ? { status: 404, body: 'no_service' } : { status: 200, body: 'ok' });
    telegram.answer = (body) => (mark && body?.text?.includes(mark) && telegrams(mark, true).length < 1 ? { status: 500, body: { ok: false } } : { status: 200, body: { ok: true } });
    mark = await startHeldBackup();
    await kiln.services.jobs.settled(mark);
    await eventually('the email and the Telegram message', () => mails(mark).length > 0 && telegrams(mark).length > 0, 30_000, POLL_MS);
    const eventId = mails(mark)[0].mail.headers.get('x-kiln-delivery') as string;
    // A later event delivered everywhere: Slack's refusal was final and recorded by then.
    const { jobId: later } = await backup();
    await eventually('the later messages', () => mails(later).length > 0 && slacks(later).length > 0 && telegrams(later).length > 0, 30_000, POLL_MS);

    const mine = logs.filter((l) => l.jobId === mark || l.jobId === later);
    expect(mine.some((l) => l.event === 'email_retry' && l.target === `127.0.0.1:${smtp.port}`)).toBe(true);
    expect(mine.some((l) => l.event === 'email_delivered' && l.target === `127.0.0.1:${smtp.port}`)).toBe(true);
    expect(mine.some((l) => l.event === 'telegram_retry')).toBe(true);
    expect(mine.some((l) => l.event === 'telegram_delivered' && l.target === telegram.url.replace('http://', ''))).toBe(true);
    expectNoSecretIn(logs);
    const rows = await query(`SELECT channel, error FROM kiln.kiln_notification_failures WHERE "eventId" = $1`, [eventId]);
    expect(rows).toEqual([{ channel: 'slack', error: 'refused: HTTP 404: no_service' }]);
    expectNoSecretIn(await query(`SELECT error FROM kiln.kiln_notification_failures`));
  });
});

describe('a gateway that stops', () => {
  it('records a delivery abandoned at the stop', async () => {
    const hang = await startHttpReceiver();
    hang.answer = () => 'hang';
    const other = await startTestKiln(
      { NOTIFY_SLACK_WEBHOOK_URL: `${hang.url}/hook`, BACKUP_WEBHOOK_TIMEOUT_SECONDS: '1', BACKUP_WEBHOOK_ATTEMPTS: '5', BACKUP_WEBHOOK_BACKOFF_MS: '60000' },
      kiln.databaseUrl,
    );
    try {
      const res = await gql(other.url, CREATE_BACKUP, { i: {} }, token);
      const jobId = res.data!.createBackup.id;
      await other.services.jobs.settled(jobId);
      await eventually('the first try', () => hang.requests.some((r) => r.body?.text?.includes(jobId)), 30_000, 20);
    } finally {
      await other.close();
      await hang.close();
    }
    // Recorded before the gateway's database closed.
    const rows = await query(`SELECT channel, error FROM kiln.kiln_notification_failures WHERE error LIKE 'abandoned%'`);
    expect(rows).toEqual([{ channel: 'slack', error: expect.stringMatching(/^abandoned after \d attempt\(s\): the gateway was stopping$/) }]);
  });
});

describe('configuration', () => {
  const base = { NODE_ENV: 'test' as const };
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('checks each channel’s variables together, naming what is missing, never echoing a secret', () => {
    expect(problems({ NOTIFY_SMTP_URL: `smtp://kiln:${SMTP_PASSWORD}@mail.example.com:587` })).toEqual([expect.stringMatching(/^NOTIFY_EMAIL_TO: required when NOTIFY_SMTP_URL is set/)]);
    expect(problems({ NOTIFY_EMAIL_TO: 'ops@example.com' })).toEqual([expect.stringMatching(/^NOTIFY_SMTP_URL: required when NOTIFY_EMAIL_TO/)]);
    expect(problems({ NOTIFY_SMTP_URL: `http://kiln:${SMTP_PASSWORD}@mail.example.com`, NOTIFY_EMAIL_TO: 'ops@example.com' })).toEqual([
      expect.stringMatching(/^NOTIFY_SMTP_URL: NOTIFY_SMTP_URL must look like smtp:/),
    ]);
    expect(problems({ NOTIFY_SMTP_URL: 'smtps://mail.example.com', NOTIFY_EMAIL_TO: 'ops@example.com, nobody' })).toEqual(['NOTIFY_EMAIL_TO: not email addresses: nobody']);
    expect(problems({ NOTIFY_TELEGRAM_BOT_TOKEN: BOT_TOKEN })).toEqual([expect.stringMatching(/^NOTIFY_TELEGRAM_CHAT_ID: required when NOTIFY_TELEGRAM_BOT_TOKEN is set/)]);
    expect(problems({ NOTIFY_TELEGRAM_CHAT_ID: CHAT_ID })).toEqual([expect.stringMatching(/^NOTIFY_TELEGRAM_BOT_TOKEN: required when NOTIFY_TELEGRAM_CHAT_ID is set/)]);
    expect(problems({ NOTIFY_TELEGRAM_BOT_TOKEN: 'not a token', NOTIFY_TELEGRAM_CHAT_ID: CHAT_ID })).toEqual([expect.stringMatching(/^NOTIFY_TELEGRAM_BOT_TOKEN: .*BotFather/)]);
    expect(problems({ NOTIFY_SMTP_URL: 'smtps://mail.example.com', NOTIFY_EMAIL_TO: 'ops@example.com', NOTIFY_EMAIL_FROM: 'Kiln <not an address>' })).toEqual([
      expect.stringMatching(/^NOTIFY_EMAIL_FROM: must be an address or "Name <address>"/),
    ]);
    expect(problems({ NOTIFY_SLACK_WEBHOOK_URL: 'hooks.slack.com/x' })).toEqual([expect.stringMatching(/^NOTIFY_SLACK_WEBHOOK_URL: /)]);
    const all = JSON.stringify([
      problems({ NOTIFY_SMTP_URL: `http://kiln:${SMTP_PASSWORD}@x` }),
      problems({ NOTIFY_TELEGRAM_BOT_TOKEN: `${BOT_TOKEN} x`, NOTIFY_TELEGRAM_CHAT_ID: CHAT_ID }),
    ]);
    expect(all).not.toContain(SMTP_PASSWORD);
    expect(all).not.toContain('never_logged');
  });

  it('has no channel unless asked, sensible defaults otherwise, and the webhook’s delivery settings for all', () => {
    const none = loadConfig(base).notify;
    expect([none.email, none.slack, none.telegram]).toEqual([undefined, undefined, undefined]);
    expect(none.delivery).toEqual({ attempts: 6, timeoutMs: 10_000, backoffMs: 1000 });
    const some = loadConfig({ ...base, NOTIFY_SMTP_URL: 'smtps://u:p@mail.example.com', NOTIFY_EMAIL_TO: 'a@example.com,b@example.com', NOTIFY_TELEGRAM_BOT_TOKEN: BOT_TOKEN, NOTIFY_TELEGRAM_CHAT_ID: '@kiln_alerts' }).notify;
    expect(some.email).toEqual({ url: 'smtps://u:p@mail.example.com', to: ['a@example.com', 'b@example.com'], from: `Kiln <kiln@${HOST}>` });
    expect(some.telegram).toEqual({ token: BOT_TOKEN, chatId: '@kiln_alerts', apiUrl: 'https://api.telegram.org' });
  });
});
