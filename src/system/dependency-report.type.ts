import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';

/** The kinds of lending records whose deletion Kiln can check beforehand. */
export enum DependencyEntity {
  USER = 'USER',
  UNION = 'UNION',
  UNION_MEMBER = 'UNION_MEMBER',
  LOAN_TYPE = 'LOAN_TYPE',
}

registerEnumType(DependencyEntity, {
  name: 'DependencyEntity',
  description: 'A lending record type that deletionDependencies can check.',
});

/** One reason a record cannot be deleted yet. */
@ObjectType('Dependency')
export class Dependency {
  @Field({ description: 'What blocks the deletion: protected, unions, members, loans or supervised.' })
  type: string;

  @Field(() => Int)
  count: number;

  @Field({ description: 'A sentence for the admin, e.g. "This user manages 3 unions".' })
  message: string;
}

/** Whether a record may be deleted under the lending app's rules, and what to do first if not. */
@ObjectType('DependencyReport')
export class DependencyReport {
  @Field({ description: 'True when nothing blocks the deletion.' })
  canDelete: boolean;

  @Field(() => [Dependency])
  dependencies: Dependency[];

  @Field(() => [String], { description: 'What to do first, one per dependency, in the same order.' })
  suggestions: string[];
}
