import { Field, ObjectType } from 'type-graphql';
import { Job } from '../jobs/job.entity';

@ObjectType('ResetResult')
export class ResetResult {
  @Field(() => Job)
  job: Job;

  @Field()
  superAdminEmail: string;

  @Field(() => String, { nullable: true, description: 'Set only when the caller gave no superAdminPassword; shown once, never stored in clear.' })
  temporaryPassword: string | null;
}
