import { randomBytes } from 'node:crypto';
import { IsNull, type DataSource } from 'typeorm';
import { User } from '../domain';
import { Role } from '../domain/lending-enums';
import { newId } from '../db/ids';
import type { Logger } from '../logging/logger';
import type { PasswordService } from './password.service';

export const DEFAULT_BOOTSTRAP_EMAIL = 'admin@kiln.local';

/**
 * First start with no active ADMIN: creates one so somebody can log in.
 * The password comes from ADMIN_PASSWORD or is generated and logged exactly once.
 */
export async function ensureBootstrapAdmin(
  dataSource: DataSource,
  options: { email?: string; password?: string },
  logger: Logger,
  passwords: PasswordService,
): Promise<void> {
  const users = dataSource.getRepository(User);
  const admins = await users.count({ where: { role: Role.ADMIN, isActive: true, deletedAt: IsNull() } });
  if (admins > 0) return;

  const email = options.email ?? DEFAULT_BOOTSTRAP_EMAIL;
  const generated = options.password === undefined;
  const password = options.password ?? randomBytes(18).toString('base64url');
  const passwordHash = await passwords.hash(password);
  const inserted = await users
    .createQueryBuilder()
    .insert()
    .values({ id: newId(), email, passwordHash, role: Role.ADMIN, isActive: true, firstName: 'Kiln', lastName: 'Administrator', updatedAt: new Date() })
    .orIgnore()
    .execute();
  if (inserted.identifiers.length === 0 || (inserted.raw as unknown[]).length === 0) {
    logger.warn({ email }, 'no active ADMIN exists and a user with the bootstrap email is already present: nobody was created');
    return;
  }
  if (generated) {
    // The one time this password exists in clear: the operator copies it from here.
    logger.warn({ event: 'bootstrap_admin', email, generatedPassword: password }, 'created the first ADMIN with a generated password; it is shown only this once');
  } else {
    logger.info({ event: 'bootstrap_admin', email }, 'created the first ADMIN from ADMIN_EMAIL/ADMIN_PASSWORD');
  }
}
