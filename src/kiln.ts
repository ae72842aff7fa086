import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { mountGraphQL } from './api/graphql-server';
import { buildKilnSchema } from './api/schema';
import { resolverContainer, type Services } from './api/services';
import { ensureBootstrapAdmin } from './auth/admin-bootstrap.service';
import { AuthService } from './auth/auth.service';
import { LoginLimiter } from './auth/login-limiter';
import { PasswordService } from './auth/password.service';
import { TokenService } from './auth/token.service';
import { downloadRouter } from './http/download.route';
import { consoleRouter } from './http/console.route';
import type { KilnConfig } from './config/config';
import { readOrCreateSecret } from './config/secret-file';
import { BackupSigner } from './backup/format/backup-signature';
import { Tarpit } from './http/tarpit';
import { SessionReader } from './auth/session-reader';
import { openDatabase } from './db/database';
import { createHttpApp, jsonErrorHandler } from './http/http-app';
import type { Logger } from './logging/logger';
import { DeletionDependenciesService } from './system/deletion-dependencies.service';
import { ResetService } from './system/reset.service';
import { BackupHealthService } from './system/backup-health.service';
import { JobEventBus } from './jobs/job-event-bus';
import { InstanceLiveness } from './jobs/instance-liveness';
import { registerInstance, unregisterInstance } from './jobs/instance-registry';
import { JobReaper } from './jobs/job-reaper';
import { JobKind } from './jobs/job.enums';
import { JobStore } from './jobs/job.store';
import { jobProgressStream } from './jobs/job-stream';
import { createBackupStorage } from './storage/storage-factory';
import { BackupLocation, BackupType } from './backup/backup.enums';
import { JobLeases } from './jobs/job-leases';
import { JournalService } from './journal/journal.service';
import { VerifyService } from './verify/verify.service';
import { newId } from './db/ids';
import { BackupScheduler } from './schedule/backup-scheduler';
import { ScheduleClaims } from './schedule/schedule-claims';
import { ScheduleService } from './schedule/schedule.service';
import { BackupNotifications } from './notify/backup-notifications';
import { NotificationFailureStore } from './notify/notification-failure.store';
import { createNotificationHub } from './notify/notification-hub.factory';
import { NotificationTestService } from './notify/notification-test.service';
import { RetentionService } from './retention/retention.service';
import { KilnMetrics } from './metrics/kiln-metrics';
import { BackupAnomalies } from './backup/backup-anomalies';
import { SuspiciousBackupWatcher } from './notify/suspicious-backup-watcher';
import { metricsRouter, startLoopbackMetrics } from './http/metrics.route';
import { createRestoreCore } from './restore-core';

export interface RunningKiln {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  services: Services;
  dataSource: DataSource;
  /** The loopback /metrics of METRICS_PORT, when set. */
  metricsUrl?: string;
  /** This instance's schedule runner and job reaper (tests drive their polls and sweeps). */
  scheduler: BackupScheduler;
  reaper: JobReaper;
  /** Drains in-flight requests, then closes the database (and the embedded server). */
  close(): Promise<void>;
}

/** Starts one gateway instance: database → services → HTTP + GraphQL. */
export async function startKiln(config: KilnConfig, logger: Logger): Promise<RunningKiln> {
  await mkdir(config.dataDir, { recursive: true });
  const db = await openDatabase(config, logger);
  let jobEventBus: JobEventBus | undefined;
  let reaper: JobReaper | undefined;
  let instanceLiveness: InstanceLiveness | undefined;
  try {
    const { dataSource } = db;
    // Built first so any service may emit events (drill.*, backup.suspicious); with no channel configured it does nothing.
    const notificationFailures = new NotificationFailureStore(dataSource, logger);
    const notifier = createNotificationHub(config, logger, { onGiveUp: notificationFailures.record });
    const jwtSecret = config.auth.jwtSecret ?? (await readOrCreateSecret(path.join(config.dataDir, 'jwt-secret')));
    const passwords = new PasswordService(config.auth.bcryptCost, config.auth.passwordCheckConcurrency, config.auth.passwordCheckNice);
    const loginLimiter = new LoginLimiter((dataSource.driver as PostgresDriver).master as Pool, config.database.kilnSchema, config.auth.login);
    // One tarpit per instance for every refusal it holds (anonymous gate, logins).
    const tarpit = new Tarpit();
    const sessions = new SessionReader(dataSource);
    const auth = new AuthService(dataSource, new TokenService(jwtSecret, config.auth.tokenTtlSeconds), logger, passwords, loginLimiter, sessions, tarpit);
    const instanceId = `${hostname()}:${process.pid}:${newId()}`;
    // Held for this instance's lifetime: the database's proof that it is alive (not a pid, which containers reuse).
    const liveness = (instanceLiveness = await InstanceLiveness.hold(dataSource, instanceId, logger));
    // A data folder it cannot write only costs the recognition of its own dead jobs (they wait for the lease TTL).
    const goneInstanceIds = await registerInstance(config.dataDir, instanceId, (ids) => liveness.goneAmong(ids)).catch((err: unknown) => {
      logger.warn({ err }, 'could not record this instance in the data folder; a restart will not recognise its jobs');
      return [];
    });
    if (goneInstanceIds.length > 0) logger.info({ event: 'gone_instances', instances: goneInstanceIds }, 'earlier instances of this data folder are gone: their jobs are failed now');
    const jobEvents = (jobEventBus = await JobEventBus.connect(instanceId, logger, config.redis));
    // Which stores (BACKUP_DIR, an off-site one) is the configuration's choice, made here once.
    const storage = createBackupStorage(config, logger);
    const signer = new BackupSigner(config.backup.signingKey ?? (await readOrCreateSecret(path.join(config.dataDir, 'backup-signing-key'))));
    const { audit, maintenance, jobs, backups, downloads, restore } = createRestoreCore(dataSource, config, {
      jobEvents,
      logger,
      instanceId,
      goneInstanceIds,
      jwtSecret,
      signer,
      storage,
    });
    const jobReaper = (reaper = new JobReaper(() => backups.recoverInterrupted(), logger, { intervalMs: config.jobs.leaseTtlMs / 2 }));
    const dependencies = new DeletionDependenciesService(dataSource, { superAdminEmail: config.auth.superAdminEmail });
    const verify = new VerifyService(dataSource, jobs, backups, config.backup.read);
    const reset = new ResetService(dataSource, jobs, backups, audit, config.auth.superAdminEmail, passwords);
    const journal: JournalService = new JournalService(dataSource, {
      databaseUrl: db.url,
      databaseName: new URL(db.url).pathname.slice(1),
      leases: new JobLeases(dataSource, instanceId, config.jobs.leaseTtlMs),
      signer,
      encryptionKey: config.encryption.key,
      // Where the schedule keeps backups: off-site only for CLOUD; BOTH copies each segment off-site once stored.
      placement: async () => {
        const { location } = await schedule.saved();
        if (location === BackupLocation.CLOUD && storage.offsite) return { write: storage.offsite, writesOffsite: true };
        return { write: storage.local, writesOffsite: false, copyTo: location === BackupLocation.BOTH ? storage.offsite : undefined };
      },
      stores: [storage.local, ...(storage.offsite ? [storage.offsite] : [])],
      offsite: storage.offsite,
      readKeys: config.encryption.readKeys,
      wanted: async () => (await schedule.saved()).continuous,
      logger: logger.child({ component: 'journal' }),
      checkMs: config.jobs.leaseTtlMs / 3,
      segmentMs: config.journal.segmentMs,
      segmentBytes: config.journal.segmentBytes,
      maxLagSeconds: config.journal.maxLagSeconds,
      maxRetainedBytes: config.journal.maxRetainedBytes,
      // A new chain can restore nothing until a backup is taken on it: one is queued at once.
      onChainStarted: async () => {
        const s = await schedule.saved();
        await backups.create({ location: s.location, includeAuditLogs: s.includeAuditLogs, includeSessions: s.includeSessions }, BackupType.SCHEDULED, null, undefined, { queue: true, coalesce: true });
      },
    });
    const schedule: ScheduleService = new ScheduleService(dataSource, audit, {
      cloudConfigured: config.cloud !== undefined,
      minIntervalSeconds: config.schedule.minIntervalSeconds,
      journal,
    });
    schedule.onUpdated(() => void journal.check());
    restore.usePointInTime(journal);
    const anomalies = new BackupAnomalies(backups.records, config.monitoring.suspiciousRatio);
    const suspiciousBackups = new SuspiciousBackupWatcher(anomalies, notifier, logger);
    jobs.onJobFinished(suspiciousBackups.onJobFinished);
    const retention = new RetentionService(new JobStore(dataSource), jobs, backups, schedule, audit, journal);
    const health = new BackupHealthService(backups.records, {
      backupDir: config.backup.dir,
      cloudConfigured: config.cloud !== undefined,
      schedule: () => schedule.healthFacts(),
      journal: () => journal.problems((at) => backups.records.pointInTimeBases(at)),
      cloudRequired: config.monitoring.cloudRequired,
      newestAnomaly: () => anomalies.newest(),
      lastDrill: async () => (await jobs.lastOutcomes(JobKind.DRILL))[0] ?? null,
      encryptionConfigured: config.encryption.key !== undefined,
      redisReachable: () => jobEvents.redisReachable(),
    });
    const notificationTests = new NotificationTestService(notifier, logger, {
      timeoutMs: config.notify.delivery.timeoutMs,
      describeUser: async (userId) => (await auth.findUser(userId))?.email ?? null,
      audit,
    });
    const services: Services = { audit, auth, maintenance, backups, jobs, dependencies, restore, verify, reset, health, schedule, retention, journal, notifications: notificationTests };
    const notifications =
      notifier.channels.length > 0
        ? new BackupNotifications(notifier, { dataSource, jobs, backups, health, logger, instanceId, healthCheckMs: config.healthCheckMs })
        : undefined;

    const schema = await buildKilnSchema(resolverContainer(services), jobEvents.pubSub);
    let boundBase = '';
    const app = createHttpApp({ dataSource, maintenance, health, logger, trustProxy: config.http.trustProxy });
    app.use(downloadRouter({ auth, backups, downloads, logger, readLimits: config.backup.read }));
    app.use(consoleRouter(config.http.consoleDir, logger));
    const metrics = new KilnMetrics({ records: backups.records, jobs, audit, health, notificationFailures });
    app.use(metricsRouter(metrics, config.monitoring.metricsToken, logger));
    const httpServer = http.createServer(app);
    // Idle connections outlive the clients' own keep-alive (undici: 4 s, load balancers: 60 s), so a
    // client never sends a request on a socket the server is closing at that moment.
    httpServer.keepAliveTimeout = 65_000;
    httpServer.headersTimeout = 66_000;
    const stopGraphQL = await mountGraphQL(app, {
      schema,
      httpServer,
      auth,
      jobStream: (jobId) => jobProgressStream(dataSource, jobEvents, jobId),
      logger,
      maxDepth: config.graphql.maxDepth,
      maxTokens: config.graphql.maxTokens,
      maxRequestBytes: config.http.maxRequestBytes,
      // Links are built from PUBLIC_URL or the bound address, never from a client's Host header.
      linkBase: () => config.http.publicUrl ?? boundBase,
      anonymousRequestsPerSecond: config.http.anonymousRequestsPerSecond,
      tarpit,
      sockets: config.http.sockets,
      publicIntrospection: config.http.publicIntrospection,
      playground: config.http.playground,
      maintenance,
      jobs,
      audit,
      maxUploadBytes: config.backup.maxUploadBytes,
      uploadMinFreeBytes: config.backup.uploadMinFreeBytes,
    });
    app.use(jsonErrorHandler(logger));

    // Before anything can start a job: what a crash left (this gateway's own jobs at once) is failed first.
    await jobReaper.start();
    // Bound before the main port: a METRICS_PORT that is taken stops the start before anything serves.
    const loopbackMetrics = config.monitoring.metricsPort === undefined ? undefined : await startLoopbackMetrics(metrics, config.monitoring.metricsPort, logger);
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.http.port, config.http.host, () => resolve());
    }).catch(async (err: unknown) => {
      await loopbackMetrics?.close();
      throw err;
    });
    const { port } = httpServer.address() as AddressInfo;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    boundBase = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    if (config.auth.bcryptCost < 10) {
      // Allowed for the test suite only; every login rehashes to this cost, so it is said loudly.
      logger.warn({ event: 'weak_password_hashing', bcryptCost: config.auth.bcryptCost }, 'BCRYPT_COST is below 10 (NODE_ENV=test): passwords are hashed for tests, not for real use');
    }
    // Only once the port is ours: a start that cannot bind creates no admin and shows no password.
    await ensureBootstrapAdmin(
      dataSource,
      { email: config.auth.bootstrapAdminEmail, password: config.auth.bootstrapAdminPassword },
      logger,
      passwords,
    );
    const scheduler = new BackupScheduler(
      schedule,
      backups,
      jobs,
      new ScheduleClaims(dataSource, instanceId),
      retention,
      logger,
      { pollMs: config.schedule.pollMs, claimTtlMs: config.jobs.leaseTtlMs },
      verify,
    );
    await scheduler.start();
    journal.start();
    notifications?.start();

    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      services,
      dataSource,
      metricsUrl: loopbackMetrics?.url,
      scheduler,
      reaper: jobReaper,
      close: async () => {
        await loopbackMetrics?.close();
        await stopGraphQL();
        await scheduler.stop();
        await journal.close();
        await jobReaper.stop();
        await jobs.shutdown();
        await unregisterInstance(config.dataDir, instanceId).catch((err) => logger.warn({ err }, 'could not remove this instance from the data folder'));
        await liveness.close();
        await notifications?.close();
        await suspiciousBackups.close();
        await notifier.close();
        await notificationFailures.close();
        await audit.close();
        await jobEvents.close();
        storage.close();
        await passwords.close();
        await sessions.close();
        await db.close();
      },
    };
  } catch (err) {
    await reaper?.stop();
    await jobEventBus?.close();
    await instanceLiveness?.close();
    await db.close();
    throw err;
  }
}
