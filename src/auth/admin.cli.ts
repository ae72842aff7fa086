/**
 * `npm run admin -- <command> <email>`: the operator's way back in, from the server's shell.
 *
 *   unlock <email>                       lifts every login limit on the account
 *   reset-password <email> [--password-stdin]
 *                                        sets a new password for an ADMIN (read from stdin, or
 *                                        generated and printed once), logs its sessions out and
 *                                        lifts its limits
 *
 * Uses DATABASE_URL, or the embedded PostgreSQL in DATA_DIR: the running gateway's when there is
 * one, else it starts it for the command. Every change is written to the audit log.
 * Exit codes: 0 done, 1 refused (unknown or non-admin account, weak password), 2 usage.
 */
import 'reflect-metadata';
import '../config/utc';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Pool } from 'pg';
import { IsNull } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { AuditLogService } from '../audit/audit-log.service';
import { loadConfig, type KilnConfig } from '../config/config';
import { openDatabase } from '../db/database';
import { StaffSession, User } from '../domain';
import { Role } from '../domain/lending-enums';
import { createLogger } from '../logging/logger';
import { LoginLimiter } from './login-limiter';
import { PasswordService } from './password.service';

const MIN_PASSWORD = 12;
const USAGE = 'usage: npm run admin -- unlock <email> | reset-password <email> [--password-stdin]';

class Refused extends Error {}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'password-stdin': { type: 'boolean' } } });
  const [command, email] = positionals;
  if (!email || positionals.length !== 2 || !['unlock', 'reset-password'].includes(command)) {
    console.error(USAGE);
    return 2;
  }
  const config = withRunningEmbeddedDatabase(loadConfig());
  const logger = createLogger('warn');
  const db = await openDatabase(config, logger);
  try {
    const dataSource = db.dataSource;
    const limiter = new LoginLimiter((dataSource.driver as PostgresDriver).master as Pool, config.database.kilnSchema, config.auth.login);
    const audit = new AuditLogService(dataSource);
    const user = await dataSource
      .getRepository(User)
      .createQueryBuilder('u')
      .where('lower(u.email) = lower(:email)', { email: email.trim() })
      .andWhere('u.deletedAt IS NULL')
      .getOne();
    const metadata = { by: 'operator shell (npm run admin)', email: email.trim().toLowerCase() };

    if (command === 'unlock') {
      const lifted = await limiter.unlock(email);
      await audit.record({ actorUserId: null, action: 'ACCOUNT_UNLOCKED', entityName: 'User', entityId: user?.id ?? '', metadata: { ...metadata, lifted } });
      console.log(lifted ? `Login limits lifted for ${email}.` : `No login limit was in force for ${email}.`);
      return 0;
    }

    if (!user || user.role !== Role.ADMIN) throw new Refused(`${email} is not an administrator's email: nothing changed`);
    const password = values['password-stdin'] ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : randomBytes(18).toString('base64url');
    if (password.length < MIN_PASSWORD) throw new Refused(`the password must be at least ${MIN_PASSWORD} characters: nothing changed`);
    const passwords = new PasswordService(config.auth.bcryptCost, 1, config.auth.passwordCheckNice);
    const passwordHash = await passwords.hash(password).finally(() => passwords.close());
    await dataSource.transaction(async (tx) => {
      await tx.update(User, { id: user.id }, { passwordHash, isActive: true, updatedAt: new Date() });
      await tx.update(StaffSession, { userId: user.id, revokedAt: IsNull() }, { revokedAt: new Date() });
      await audit.record({ actorUserId: null, action: 'PASSWORD_RESET', entityName: 'User', entityId: user.id, metadata }, tx);
    });
    await limiter.unlock(email);
    console.log(`New password set for ${email}; its sessions are logged out.`);
    if (!values['password-stdin']) console.log(`Password (shown once): ${password}`);
    return 0;
  } finally {
    await db.close();
  }
}

/**
 * Without DATABASE_URL, a gateway may be running the embedded PostgreSQL of DATA_DIR: its
 * postmaster.pid names the port (line 4), and Kiln's password file is beside it.
 */
function withRunningEmbeddedDatabase(config: KilnConfig): KilnConfig {
  if (config.database.url) return config;
  let port: number;
  let password: string;
  try {
    const pid = readFileSync(path.join(config.dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
    if (!isRunning(Number(pid[0]))) return config; // a stale file: openDatabase starts it for the command
    port = Number(pid[3]);
    password = readFileSync(path.join(config.dataDir, 'pg-password'), 'utf8').trim();
  } catch {
    return config; // not running: openDatabase starts it for the command
  }
  return { ...config, database: { ...config.database, url: `postgres://kiln:${encodeURIComponent(password)}@127.0.0.1:${port}/kiln` } };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's (postgres)
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Refused ? `refused: ${err.message}` : `failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
