import { Args, Authorized, Query, Resolver } from 'type-graphql';
import type { Services } from '../api/services';
import { AuditLogArgs, AuditPage } from './audit-log.types';

@Resolver()
export class AuditLogResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => AuditPage, { description: 'Kiln’s audit trail (maintenance, schedule, backups, restores, resets, refused dangerous mutations), newest first.' })
  auditLog(@Args() { filter, limit, offset }: AuditLogArgs): Promise<AuditPage> {
    return this.services.audit.list(filter ?? {}, limit, offset);
  }
}
