import { Matches, MaxLength } from 'class-validator';
import { Args, ArgsType, Authorized, Field, ID, Query, Resolver } from 'type-graphql';
import type { Services } from '../api/services';
import { DependencyEntity, DependencyReport } from './dependency-report.type';

/** Lending ids are cuids (25 characters); anything this long is not an id. */
const MAX_ID_LENGTH = 255;

/** A NUL, which PostgreSQL text cannot hold, is refused before this (rejectNulBytes). */
@ArgsType()
class DeletionDependenciesArgs {
  @Field(() => DependencyEntity)
  entityType: DependencyEntity;

  @Field(() => ID)
  @Matches(/\S/, { message: 'entityId must not be empty' })
  @MaxLength(MAX_ID_LENGTH, { message: `entityId must be at most ${MAX_ID_LENGTH} characters` })
  entityId: string;
}

@Resolver()
export class DeletionDependenciesResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => DependencyReport, {
    description: 'What must happen before a user, union, union member or loan type can be deleted in the lending app.',
  })
  deletionDependencies(@Args() { entityType, entityId }: DeletionDependenciesArgs): Promise<DependencyReport> {
    return this.services.dependencies.check(entityType, entityId);
  }
}
