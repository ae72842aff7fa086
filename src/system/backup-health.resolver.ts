import { Authorized, Query, Resolver } from 'type-graphql';
import type { Services } from '../api/services';
import { BackupHealth } from './backup-health.type';

@Resolver()
export class BackupHealthResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => BackupHealth)
  backupHealth(): Promise<BackupHealth> {
    return this.services.health.health();
  }
}
