import path from 'node:path';
import { DEFAULT_READ_LIMITS } from '../backup/format/backup-reader';
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import { BackupKeyError, parseKey, parseKeyList } from '../crypto/backup-key';
import { PACKAGE_ROOT } from './version';

/**
 * Every setting Kiln reads from the environment, parsed and validated once.
 * Nothing else in the code base touches process.env.
 */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: optionalString,
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(100).default(10),
  DATA_DIR: z.string().default('./.kiln'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  // Prisma manages `public` and drops what it does not know there: Kiln's tables live apart.
  KILN_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'KILN_SCHEMA must be a lowercase SQL identifier (letters, digits, _), e.g. kiln')
    .refine((s) => s !== 'public' && !s.startsWith('pg_'), 'KILN_SCHEMA must not be public (the app\'s schema, managed by Prisma) or a pg_ schema')
    .default('kiln'),

  JWT_SECRET: optionalString.pipe(
    z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  ),
  // Signs every backup Kiln writes; a restore of a file it does not verify needs allowUnsigned.
  BACKUP_SIGNING_KEY: optionalString.pipe(
    z.string().min(32, 'BACKUP_SIGNING_KEY must be at least 32 characters').optional(),
  ),
  JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(8 * 3600),
  // Cost of every password hash Kiln makes or stands in for (the app hashes at 10 and 12).
  // Below 10 only under NODE_ENV=test (bcryptCost()).
  BCRYPT_COST: z.coerce.number().int().min(4, 'BCRYPT_COST must be 10 to 15 (4 to 15 under NODE_ENV=test)').max(15, 'BCRYPT_COST must be 10 to 15 (4 to 15 under NODE_ENV=test)').default(12),
  // One core is left to the event loop: checks on every core would slow every admin's request.
  PASSWORD_CHECK_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(Math.max(1, availableParallelism() - 1)),
  // The checks' threads yield the CPU to everything else (19, the lowest priority): a login flood
  // only takes CPU nothing else wants, and a login waits while backups take every core.
  PASSWORD_CHECK_NICE: z.coerce.number().int().min(0).max(19).default(19),
  LOGIN_ATTEMPTS_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(10),
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  ANONYMOUS_REQUESTS_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(20),
  INTROSPECTION: z.enum(['admin', 'public']).default('admin'),
  // GraphiQL served by Kiln itself (works offline), Apollo Sandbox (from Apollo's CDN), or none.
  PLAYGROUND: z.enum(['graphiql', 'sandbox', 'off']).default('graphiql'),
  SOCKET_SESSION_CHECK_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  SOCKET_AUTH_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(10_000).default(20),
  // Proxies whose X-Forwarded-* headers are believed (express's "trust proxy": loopback, addresses, CIDRs).
  TRUST_PROXY: optionalString,

  ADMIN_EMAIL: optionalString.pipe(z.email('ADMIN_EMAIL must be an email address').optional()),
  SUPERADMIN_EMAIL: z.email('SUPERADMIN_EMAIL must be an email address').default('superadmin@kiln.local'),
  ADMIN_PASSWORD: optionalString.pipe(
    z.string().min(12, 'ADMIN_PASSWORD must be at least 12 characters').optional(),
  ),

  BACKUP_DIR: z.string().default('./backups'),
  APP_BACKUP_DIR: optionalString,
  PUBLIC_URL: optionalString.pipe(z.url('PUBLIC_URL must be a URL like https://kiln.example.com').optional()),
  JOB_LEASE_TTL_SECONDS: z.coerce.number().min(1).max(600).default(30),
  UPLOAD_MIN_FREE_BYTES: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(256 * 1024 ** 2),
  MAX_UPLOAD_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 ** 3).default(2 * 1024 ** 3),
  // Bounds on reading any backup; the defaults are the reader's own (rows are a few KB, real data gzips ~10-fold).
  MAX_BACKUP_LINE_BYTES: z.coerce.number().int().min(64 * 1024).max(1024 ** 3).default(DEFAULT_READ_LIMITS.maxLineBytes),
  MAX_GZIP_EXPANSION: z.coerce.number().min(20).max(100_000).default(DEFAULT_READ_LIMITS.maxGzipExpansion),
  DOWNLOAD_URL_TTL: z.coerce.number().int().min(10).max(7 * 24 * 3600).default(900),
  // Database sessions reading a backup's large tables at once (two halves each): 1 keeps a backup to one core of the server.
  BACKUP_READ_SESSIONS: z.coerce.number().int('BACKUP_READ_SESSIONS must be 1 or 2').min(1, 'BACKUP_READ_SESSIONS must be 1 or 2').max(2, 'BACKUP_READ_SESSIONS must be 1 or 2').default(2),

  CLOUDINARY_URL: optionalString.pipe(
    z
      .string()
      .regex(/^cloudinary:\/\/[^:@/]+:[^@/]+@[^?/]+/, 'CLOUDINARY_URL must look like cloudinary://<api_key>:<api_secret>@<cloud_name>')
      .optional(),
  ),
  CLOUDINARY_UPLOAD_PREFIX: optionalString.pipe(z.url('CLOUDINARY_UPLOAD_PREFIX must be a URL').optional()),
  CLOUDINARY_FOLDER: z.string().regex(/^[\w\-/]+$/, 'CLOUDINARY_FOLDER may hold letters, digits, -, _ and /').default('kiln-backups'),
  CLOUD_RETRY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(4),
  CLOUD_TIMEOUT_SECONDS: z.coerce.number().min(1).max(3600).default(120),
  // Cloudinary wants every chunk but the last to be at least 5 MB.
  CLOUDINARY_CHUNK_BYTES: z.coerce.number().int().min(5 * 1024 * 1024).max(100 * 1024 * 1024).default(20 * 1024 * 1024),
  BACKUP_ENCRYPTION_KEY: optionalString,
  BACKUP_DECRYPTION_KEYS: optionalString,

  MAX_QUERY_DEPTH: z.coerce.number().int().min(2).max(50).default(10),
  MAX_QUERY_TOKENS: z.coerce.number().int().min(100).max(100_000).default(2000),
  MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(100 * 1024),
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().min(1).max(600).default(30),

  SCHEDULE_MIN_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(300),
  SCHEDULE_POLL_SECONDS: z.coerce.number().min(0.1).max(300).default(5),
  JOURNAL_SEGMENT_SECONDS: z.coerce.number().min(0.1).max(3600).default(5),
  JOURNAL_SEGMENT_MB: z.coerce.number().min(1).max(1024).default(16),
  JOURNAL_MAX_LAG_SECONDS: z.coerce.number().min(1).max(86400).default(300),
  JOURNAL_MAX_RETAINED_MB: z.coerce.number().min(1).max(1048576).default(512),

  BACKUP_WEBHOOK_URL: optionalString.pipe(
    z.url({ protocol: /^https?$/, error: 'BACKUP_WEBHOOK_URL must be an http(s) URL like https://hooks.example.com/kiln' }).optional(),
  ),
  BACKUP_WEBHOOK_SECRET: optionalString.pipe(z.string().min(16, 'BACKUP_WEBHOOK_SECRET must be at least 16 characters').optional()),
  BACKUP_WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  BACKUP_WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(300).default(10),
  BACKUP_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(1).max(300_000).default(1000),
  HEALTH_CHECK_SECONDS: z.coerce.number().min(0.1).max(24 * 3600).default(60),
  // "Cloud storage is not configured" is a health problem unless an installation is local-only by choice.
  CLOUD_REQUIRED: z.enum(['true', 'false'], { error: 'CLOUD_REQUIRED must be true or false' }).default('true').transform((v) => v === 'true'),
  // A completed backup whose data is under this share of the previous comparable one is flagged as suspicious.
  BACKUP_SUSPICIOUS_RATIO: z.coerce.number().min(0).max(1).default(0.5),
  // GET /metrics on the main port answers only with this bearer token; METRICS_PORT serves it on loopback without one.
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional()),
  METRICS_PORT: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional()),

  // Messages for people, beside the webhooks; checked together in notifyConfig. Never logged.
  NOTIFY_SMTP_URL: optionalString.pipe(
    z.string().regex(/^smtps?:\/\/[^\s/?#]+/, 'NOTIFY_SMTP_URL must look like smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465').optional(),
  ),
  NOTIFY_EMAIL_TO: optionalString,
  NOTIFY_EMAIL_FROM: optionalString,
  NOTIFY_SLACK_WEBHOOK_URL: optionalString.pipe(
    z.url({ protocol: /^https?$/, error: 'NOTIFY_SLACK_WEBHOOK_URL must be an http(s) URL like https://hooks.slack.com/services/T…/B…/…' }).optional(),
  ),
  NOTIFY_TELEGRAM_BOT_TOKEN: optionalString.pipe(
    z.string().regex(/^\d+:[\w-]+$/, 'NOTIFY_TELEGRAM_BOT_TOKEN must look like 123456789:AAE… (the token BotFather gives)').optional(),
  ),
  NOTIFY_TELEGRAM_CHAT_ID: optionalString.pipe(
    z.string().regex(/^(-?\d+|@[A-Za-z]\w{3,})$/, 'NOTIFY_TELEGRAM_CHAT_ID must be a chat id (e.g. -1001234567890) or a channel name (@name)').optional(),
  ),
  NOTIFY_TELEGRAM_API_URL: z.url({ protocol: /^https?$/, error: 'NOTIFY_TELEGRAM_API_URL must be an http(s) URL' }).default('https://api.telegram.org'),

  REDIS_URL: optionalString.pipe(
    z.string().regex(/^rediss?:\/\/\S+$/, 'REDIS_URL must look like redis://[:password@]host:6379[/db] (rediss:// for TLS)').optional(),
  ),
  REDIS_CHANNEL_PREFIX: z.string().regex(/^[\w\-.:]+$/, 'REDIS_CHANNEL_PREFIX may hold letters, digits, -, _, . and :').default('kiln'),
});

export type KilnConfig = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof envSchema>) {
  const dataDir = path.resolve(env.DATA_DIR);
  return {
    env: env.NODE_ENV,
    http: {
      host: env.HOST,
      port: env.PORT,
      maxRequestBytes: env.MAX_REQUEST_BYTES,
      /** Anonymous clients may introspect the schema only with INTROSPECTION=public. */
      publicIntrospection: env.INTROSPECTION === 'public',
      /** What a browser opening /graphql gets. */
      playground: env.PLAYGROUND,
      /** The console served at / (web/, built there by `npm run build`). */
      consoleDir: path.join(PACKAGE_ROOT, 'dist', 'web'),
      /** Open sockets: how often their sessions are checked again, and subscriptions per socket and per user. */
      sockets: { checkMs: env.SOCKET_SESSION_CHECK_MS, pendingAuthMs: env.SOCKET_AUTH_TIMEOUT_MS, maxSubscriptionsPerSocket: env.MAX_SUBSCRIPTIONS, maxSubscriptionsPerUser: env.MAX_SUBSCRIPTIONS },
      /** Requests without a token per client address and second, refused before their body is read. */
      anonymousRequestsPerSecond: env.ANONYMOUS_REQUESTS_PER_SECOND,
      /** Who may set X-Forwarded-For/-Proto/-Host: nobody unless named (express "trust proxy" syntax). */
      trustProxy: (env.TRUST_PROXY ? env.TRUST_PROXY.split(',').map((p) => p.trim()).filter(Boolean) : false) as string[] | false,
      /** Base of links Kiln hands out; unset: taken from each request's Host. */
      publicUrl: env.PUBLIC_URL?.replace(/\/+$/, ''),
    },
    log: { level: env.LOG_LEVEL },
    dataDir,
    database: {
      /** When undefined, Kiln runs an embedded PostgreSQL in dataDir. */
      url: env.DATABASE_URL,
      poolSize: env.DATABASE_POOL_SIZE,
      embeddedPort: env.EMBEDDED_PG_PORT,
      /** Where Kiln's own tables live; the app's tables stay in `public`. */
      kilnSchema: env.KILN_SCHEMA,
    },
    auth: {
      /** When undefined in embedded mode, a secret is generated once and kept in dataDir. */
      jwtSecret: env.JWT_SECRET,
      tokenTtlSeconds: env.JWT_TTL_SECONDS,
      bootstrapAdminEmail: env.ADMIN_EMAIL,
      bootstrapAdminPassword: env.ADMIN_PASSWORD,
      /** The account a system reset creates, protected from deletion. */
      superAdminEmail: env.SUPERADMIN_EMAIL,
      bcryptCost: bcryptCost(env),
      passwordCheckConcurrency: env.PASSWORD_CHECK_CONCURRENCY,
      passwordCheckNice: env.PASSWORD_CHECK_NICE,
      login: { attemptsPerMinute: env.LOGIN_ATTEMPTS_PER_MINUTE, failuresPerAccount: env.LOGIN_MAX_FAILURES },
    },
    jobs: {
      /** A job whose instance stops heart-beating for this long counts as interrupted. */
      leaseTtlMs: env.JOB_LEASE_TTL_SECONDS * 1000,
    },
    backup: {
      dir: path.resolve(env.BACKUP_DIR),
      /** The lending app's own backup folder, where the files of its `localPath` rows may be found. */
      appDir: env.APP_BACKUP_DIR ? path.resolve(env.APP_BACKUP_DIR) : undefined,
      downloadUrlTtlSeconds: env.DOWNLOAD_URL_TTL,
      /** When undefined in embedded mode, a key is generated once and kept in dataDir. */
      signingKey: env.BACKUP_SIGNING_KEY,
      maxUploadBytes: env.MAX_UPLOAD_BYTES,
      /** Bounds of every read of a backup file (restore, verify): a longer line or a gzip bomb fails, naming the setting. */
      read: { maxLineBytes: env.MAX_BACKUP_LINE_BYTES, maxGzipExpansion: env.MAX_GZIP_EXPANSION },
      /** Disk an upload must leave free (for the database and the safety backup), checked against its declared size and as it arrives. */
      uploadMinFreeBytes: env.UPLOAD_MIN_FREE_BYTES,
      /** Sessions reading a backup's large tables at once (see snapshot-exporter.ts). */
      readSessions: env.BACKUP_READ_SESSIONS,
    },
    /** Cloudinary, when CLOUDINARY_URL is set; otherwise CLOUD and BOTH are refused. */
    cloud: cloudConfig(env),
    encryption: encryptionConfig(env),
    graphql: { maxDepth: env.MAX_QUERY_DEPTH, maxTokens: env.MAX_QUERY_TOKENS },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    schedule: {
      /** A cron firing more often than this is refused. */
      minIntervalSeconds: env.SCHEDULE_MIN_INTERVAL_SECONDS,
      /** How often each instance re-reads the schedule, so an update reaches all of them. */
      pollMs: env.SCHEDULE_POLL_SECONDS * 1000,
    },
    journal: {
      /** A journal segment is stored once this old (the most a crash can make the server send again)… */
      segmentMs: env.JOURNAL_SEGMENT_SECONDS * 1000,
      /** …or this large before compression. */
      segmentBytes: env.JOURNAL_SEGMENT_MB * 1024 * 1024,
      /** Health flags a journal further behind than this… */
      maxLagSeconds: env.JOURNAL_MAX_LAG_SECONDS,
      /** …or whose slot holds back more WAL than this. */
      maxRetainedBytes: env.JOURNAL_MAX_RETAINED_MB * 1024 * 1024,
    },
    /** Signed webhook deliveries of job and health events, when BACKUP_WEBHOOK_URL is set. */
    webhook: webhookConfig(env),
    /** Email, Slack and Telegram messages of the same events, each when its variables are set. */
    notify: notifyConfig(env, env.PUBLIC_URL?.replace(/\/+$/, '')),
    /** How often backup health is re-evaluated for health.* notifications. */
    healthCheckMs: env.HEALTH_CHECK_SECONDS * 1000,
    monitoring: {
      /** false: a local-only installation, where no cloud copy is a note in health, not a problem. */
      cloudRequired: env.CLOUD_REQUIRED,
      /** A completed backup with less data than this share of the previous comparable one is suspicious. */
      suspiciousRatio: env.BACKUP_SUSPICIOUS_RATIO,
      /** GET /metrics: with this bearer token on the main port, and/or open on this loopback port. */
      metricsToken: env.METRICS_TOKEN,
      metricsPort: env.METRICS_PORT,
    },
    /** Redis pub/sub carrying job events between instances, when REDIS_URL is set; else in-process only. */
    redis: env.REDIS_URL ? { url: env.REDIS_URL, channelPrefix: env.REDIS_CHANNEL_PREFIX } : undefined,
  };
}

/**
 * At least 10 (the app's own lowest) wherever passwords are real. The test suite logs in some
 * 500 times and checks timing only where it sets the cost itself: at 4 each check takes ~1 ms instead of ~65 ms of CPU.
 */
function bcryptCost(env: z.infer<typeof envSchema>): number {
  if (env.BCRYPT_COST < 10 && env.NODE_ENV !== 'test') {
    throw new ConfigError([`BCRYPT_COST: must be 10 to 15 (got ${env.BCRYPT_COST}; lower costs are for the test suite, NODE_ENV=test)`]);
  }
  return env.BCRYPT_COST;
}

function webhookConfig(env: z.infer<typeof envSchema>) {
  if (!env.BACKUP_WEBHOOK_URL) return undefined;
  if (!env.BACKUP_WEBHOOK_SECRET) {
    // Unsigned deliveries could be forged by anyone who finds the receiver: no URL without a secret.
    throw new ConfigError(['BACKUP_WEBHOOK_SECRET: required when BACKUP_WEBHOOK_URL is set (at least 16 characters; receivers check X-Kiln-Signature with it)']);
  }
  const url = new URL(env.BACKUP_WEBHOOK_URL);
  if ((url.username || url.password) && url.protocol !== 'https:') {
    throw new ConfigError(['BACKUP_WEBHOOK_URL: credentials in the URL are sent as Basic auth, so only over https']);
  }
  return {
    url: env.BACKUP_WEBHOOK_URL,
    secret: env.BACKUP_WEBHOOK_SECRET,
    attempts: env.BACKUP_WEBHOOK_ATTEMPTS,
    timeoutMs: env.BACKUP_WEBHOOK_TIMEOUT_SECONDS * 1000,
    /** First retry delay; it doubles each retry, up to 5 minutes. */
    backoffMs: env.BACKUP_WEBHOOK_BACKOFF_MS,
  };
}

function notifyConfig(env: z.infer<typeof envSchema>, consoleUrl: string | undefined) {
  const problems: string[] = [];
  let email: { url: string; to: string[]; from: string } | undefined;
  if (env.NOTIFY_SMTP_URL) {
    const to = (env.NOTIFY_EMAIL_TO ?? '').split(',').map((a) => a.trim()).filter(Boolean);
    const from = env.NOTIFY_EMAIL_FROM ?? `Kiln <kiln@${hostname()}>`;
    if (to.length === 0) problems.push('NOTIFY_EMAIL_TO: required when NOTIFY_SMTP_URL is set (comma-separated addresses, e.g. ops@example.com,backup@example.com)');
    const badTo = to.filter((a) => !isEmail(a));
    if (badTo.length > 0) problems.push(`NOTIFY_EMAIL_TO: not email addresses: ${badTo.join(', ')}`);
    // The default names this machine; one given is checked (SMTP servers refuse a malformed sender).
    if (env.NOTIFY_EMAIL_FROM && !isEmail(/<([^<>]+)>\s*$/.exec(from)?.[1] ?? from)) {
      problems.push('NOTIFY_EMAIL_FROM: must be an address or "Name <address>", e.g. Kiln <kiln@example.com>');
    }
    email = { url: env.NOTIFY_SMTP_URL, to, from };
  } else if (env.NOTIFY_EMAIL_TO || env.NOTIFY_EMAIL_FROM) {
    problems.push('NOTIFY_SMTP_URL: required when NOTIFY_EMAIL_TO or NOTIFY_EMAIL_FROM is set (e.g. smtp://user:password@smtp.example.com:587)');
  }
  const { NOTIFY_TELEGRAM_BOT_TOKEN: token, NOTIFY_TELEGRAM_CHAT_ID: chatId } = env;
  if (token && !chatId) problems.push('NOTIFY_TELEGRAM_CHAT_ID: required when NOTIFY_TELEGRAM_BOT_TOKEN is set (the chat the bot writes to)');
  if (chatId && !token) problems.push('NOTIFY_TELEGRAM_BOT_TOKEN: required when NOTIFY_TELEGRAM_CHAT_ID is set (the token BotFather gives)');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    email,
    slack: env.NOTIFY_SLACK_WEBHOOK_URL ? { url: env.NOTIFY_SLACK_WEBHOOK_URL } : undefined,
    telegram: token && chatId ? { token, chatId, apiUrl: env.NOTIFY_TELEGRAM_API_URL.replace(/\/+$/, '') } : undefined,
    /** Every channel (webhooks included) tries, times out and backs off as BACKUP_WEBHOOK_* say. */
    delivery: {
      attempts: env.BACKUP_WEBHOOK_ATTEMPTS,
      timeoutMs: env.BACKUP_WEBHOOK_TIMEOUT_SECONDS * 1000,
      backoffMs: env.BACKUP_WEBHOOK_BACKOFF_MS,
    },
    /** How messages name this gateway, and where its console is. */
    host: hostname(),
    consoleUrl,
  };
}

function isEmail(value: string): boolean {
  return z.email().safeParse(value.trim()).success;
}

function cloudConfig(env: z.infer<typeof envSchema>) {
  if (!env.CLOUDINARY_URL) return undefined;
  const url = new URL(env.CLOUDINARY_URL);
  return {
    cloudName: url.hostname,
    apiKey: decodeURIComponent(url.username),
    apiSecret: decodeURIComponent(url.password),
    /** API base: CLOUDINARY_UPLOAD_PREFIX, the URL's upload_prefix, or Cloudinary's own. */
    uploadPrefix: (env.CLOUDINARY_UPLOAD_PREFIX ?? url.searchParams.get('upload_prefix') ?? 'https://api.cloudinary.com').replace(/\/+$/, ''),
    folder: env.CLOUDINARY_FOLDER.replace(/^\/+|\/+$/g, ''),
    retryAttempts: env.CLOUD_RETRY_ATTEMPTS,
    timeoutMs: env.CLOUD_TIMEOUT_SECONDS * 1000,
    chunkBytes: env.CLOUDINARY_CHUNK_BYTES,
  };
}

function encryptionConfig(env: z.infer<typeof envSchema>) {
  const key = env.BACKUP_ENCRYPTION_KEY ? parseKey(env.BACKUP_ENCRYPTION_KEY) : undefined;
  const oldKeys = env.BACKUP_DECRYPTION_KEYS ? parseKeyList(env.BACKUP_DECRYPTION_KEYS) : [];
  return {
    /** New backups are encrypted with this key when set. */
    key,
    /** Every key a backup may be read with: the current one first, then old ones (rotation). */
    readKeys: key ? [key, ...oldKeys] : oldKeys,
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): KilnConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`),
    );
  }
  let config: KilnConfig;
  try {
    config = toConfig(parsed.data);
  } catch (err) {
    if (err instanceof BackupKeyError) throw new ConfigError([err.message]);
    throw err;
  }
  if (config.database.url && !config.auth.jwtSecret) {
    // With an external database several instances may share it: they must share one secret.
    throw new ConfigError(['JWT_SECRET: required when DATABASE_URL is set']);
  }
  if (config.database.url && !config.backup.signingKey) {
    // Every instance must verify what the others wrote.
    throw new ConfigError(['BACKUP_SIGNING_KEY: required when DATABASE_URL is set (at least 32 characters, the same on every instance)']);
  }
  return config;
}

const fileToolSchema = envSchema.pick({
  BACKUP_ENCRYPTION_KEY: true,
  BACKUP_DECRYPTION_KEYS: true,
  BACKUP_SIGNING_KEY: true,
  MAX_BACKUP_LINE_BYTES: true,
  MAX_GZIP_EXPANSION: true,
});

/** What `kiln file …` needs to read a backup without a gateway: the gateway's keys and read limits, from the same variables. */
export interface FileToolConfig {
  /** Every key a file may be decrypted with (BACKUP_ENCRYPTION_KEY, then BACKUP_DECRYPTION_KEYS). */
  readKeys: Buffer[];
  /** BACKUP_SIGNING_KEY: checks the signature when set. */
  signingKey?: string;
  read: { maxLineBytes: number; maxGzipExpansion: number };
}

export function loadFileToolConfig(env: NodeJS.ProcessEnv = process.env): FileToolConfig {
  const parsed = fileToolSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  try {
    const e = parsed.data;
    return {
      readKeys: encryptionConfig(e as z.infer<typeof envSchema>).readKeys,
      signingKey: e.BACKUP_SIGNING_KEY,
      read: { maxLineBytes: e.MAX_BACKUP_LINE_BYTES, maxGzipExpansion: e.MAX_GZIP_EXPANSION },
    };
  } catch (err) {
    if (err instanceof BackupKeyError) throw new ConfigError([err.message]);
    throw err;
  }
}

const cliSchema = z.object({
  KILN_URL: z.url('KILN_URL must be the gateway’s URL, e.g. http://127.0.0.1:4000').default('http://127.0.0.1:4000'),
  KILN_TOKEN: optionalString,
  KILN_EMAIL: optionalString,
});

/** How `kiln` reaches a gateway: its URL, and a token (KILN_TOKEN) or the admin to sign in as. */
export interface CliGatewayConfig {
  url: string;
  token?: string;
  email?: string;
}

export function loadCliGatewayConfig(env: NodeJS.ProcessEnv = process.env): CliGatewayConfig {
  const parsed = cliSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  return { url: parsed.data.KILN_URL.replace(/\/+$/, ''), token: parsed.data.KILN_TOKEN, email: parsed.data.KILN_EMAIL };
}
