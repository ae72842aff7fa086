import { Arg, Authorized, ID, Query, Resolver } from 'type-graphql';
import type { Services } from '../api/services';
import { DependencyEntity, DependencyReport } from './dependency-report.type';

@Resolver()
export class DeletionDependenciesResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => DependencyReport, {
    description: 'What must happen before a user, union, union member or loan type can be deleted in the lending app.',
  })
  deletionDependencies(
    @Arg('entityType', () => DependencyEntity) entityType: DependencyEntity,
    @Arg('entityId', () => ID) entityId: string,
  ): Promise<DependencyReport> {
    return this.services.dependencies.check(entityType, entityId);
  }
}
