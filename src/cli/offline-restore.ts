import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { readBackupFileFacts } from '../backup/format/backup-file-facts';
import { BackupFormatError } from '../backup/format/backup-reader';
import { BackupSigner } from '../backup/format/backup-signature';
import { DecryptionError } from '../crypto/encryption';
import { ConfigError, loadConfig } from '../config/config';
import { openDatabase } from '../db/database';
import { newId } from '../db/ids';
import { toKilnError } from '../errors/to-kiln-error';
import { FINISHED_STATUSES } from '../jobs/job.enums';
import { JobEventBus } from '../jobs/job-event-bus';
import { JobStore } from '../jobs/job.store';
import { jobProgressStream } from '../jobs/job-stream';
import { createLogger } from '../logging/logger';
import { createRestoreCore } from '../restore-core';
import { CliError, ExitCode } from './exit-codes';
import { assertCompleted, progressView, type JobState, type ProgressOutput } from './job-follower';
import { confirm } from './restore';

export interface OfflineRestoreOptions {
  databaseUrl: string;
  yes?: boolean;
  force?: boolean;
  allowUnsigned?: boolean;
  /** Where the PRE_RESTORE safety backup of what the database held is written. */
  safetyDir: string;
  signingKeyFile?: string;
}

const META = { ipAddress: null, userAgent: 'kiln file restore' };
// Tables that say a database is the lending app's (an empty one gets the schema first).
const LENDING_MARKERS = ['User', 'Loan', 'UnionMember'];

/**
 * `kiln file restore`: the gateway's own restore (validation, PRE_RESTORE safety backup, one
 * transaction, everybody logged out) run in this process against `databaseUrl`, for when no
 * gateway is left. The database must be empty (it gets the lending schema and Kiln's tables) or
 * the lending app's. Maintenance mode is turned on for the restore and back off after; while a
 * gateway holds a job lease with maintenance off, it refuses unless --force.
 */
export async function restoreFileOffline(file: string, options: OfflineRestoreOptions, output: ProgressOutput): Promise<JobState> {
  if (!(await stat(file).catch(() => null))?.isFile()) throw new CliError(`${file}: no such file`);
  const target = redacted(options.databaseUrl);
  await assertLendingOrEmpty(options.databaseUrl, target);
  const signingKey = options.signingKeyFile ? (await readFile(options.signingKeyFile, 'utf8')).trim() : undefined;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kiln-file-restore-'));
  let config;
  try {
    config = loadConfig({
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      // Tokens are never issued here; the signature is checked with the deployment's key when given.
      JWT_SECRET: randomBytes(32).toString('hex'),
      BACKUP_SIGNING_KEY: signingKey ?? process.env.BACKUP_SIGNING_KEY ?? randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      BACKUP_DIR: options.safetyDir,
      DATABASE_POOL_SIZE: '4',
    });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    if (err instanceof ConfigError) throw new CliError(err.problems.join('; '), ExitCode.USAGE);
    throw err;
  }
  // A file that cannot be read or fails its checksum is refused before the database is touched
  // (an empty one would otherwise get the schema first).
  try {
    const facts = await readBackupFileFacts(createReadStream(file), { readKeys: config.encryption.readKeys, limits: config.backup.read });
    if (!facts.checksum.matches) throw new CliError(`${file}: the data does not match its checksum: the file was changed or damaged; nothing was changed`);
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    if (err instanceof BackupFormatError || err instanceof DecryptionError) throw new CliError(`${file}: ${err.message}; nothing was changed`);
    throw err;
  }
  await confirm(path.basename(file), target, options.yes === true);

  const logger = createLogger('silent');
  const db = await openDatabase(config, logger).catch((err: unknown) => {
    throw new CliError(`cannot open ${target}: ${(err as Error).message}`, ExitCode.UNREACHABLE);
  });
  const jobEvents = await JobEventBus.connect(`${hostname()}:${process.pid}:${newId()}:kiln-file-restore`, logger);
  try {
    const { dataSource } = db;
    const { maintenance, restore } = createRestoreCore(dataSource, config, {
      jobEvents,
      logger,
      instanceId: `kiln-file-restore:${process.pid}`,
      jwtSecret: config.auth.jwtSecret!,
      signer: new BackupSigner(config.backup.signingKey!),
    });
    const wasOn = (await maintenance.get()).enabled;
    if (!wasOn) {
      const runningJobId = await new JobStore(dataSource).leaseHolderId();
      if (runningJobId && !options.force) {
        throw new CliError(`a gateway is running job ${runningJobId} on ${target} and maintenance mode is off: stop it or turn maintenance on (or --force)`);
      }
      await maintenance.set(true, `Restoring ${path.basename(file)} (kiln file restore)`, null, META);
    }
    try {
      const started = await restore.restoreLocalFile(file, META, { allowUnsigned: options.allowUnsigned === true });
      const show = progressView(output);
      let last: JobState | undefined;
      try {
        for await (const job of jobProgressStream(dataSource, jobEvents, started.id)) {
          last = job as unknown as JobState;
          show.update(last);
          if (FINISHED_STATUSES.has(job.status)) break;
        }
      } finally {
        show.stop();
      }
      return assertCompleted(last!);
    } finally {
      if (!wasOn) await maintenance.set(false, null, null, META);
    }
  } catch (err) {
    const known = toKilnError(err);
    if (known && !(err instanceof CliError)) throw new CliError(`${known.code}: ${known.message}`);
    throw err;
  } finally {
    await jobEvents.close();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Refuses, before anything is created, a database that holds tables of something else. */
async function assertLendingOrEmpty(url: string, target: string): Promise<void> {
  const db = new Client({ connectionString: url });
  try {
    await db.connect();
  } catch (err) {
    throw new CliError(`cannot connect to ${target}: ${(err as Error).message}`, ExitCode.UNREACHABLE);
  }
  try {
    const { rows } = await db.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
    const names = rows.map((r) => r.name);
    if (names.length > 0 && !LENDING_MARKERS.every((t) => names.includes(t))) {
      throw new CliError(`${target} holds tables that are not the lending app's (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}): nothing was changed`);
    }
  } finally {
    await db.end();
  }
}

/** The URL as it may be printed: no password. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the database';
  }
}
