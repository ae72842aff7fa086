import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { Job } from '../jobs/job.entity';

@Resolver()
export class VerifyResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Mutation(() => Job, {
    description: 'Checks a stored backup (presence, size, checksum, counts); with restoreDrill, also restores it into a scratch schema and compares.',
  })
  verifyBackup(
    @Arg('id', () => ID) id: string,
    @Arg('restoreDrill', () => Boolean, { nullable: true, defaultValue: false }) restoreDrill: boolean,
    @Ctx() ctx: KilnContext,
  ): Promise<Job> {
    return this.services.verify.verify(id, restoreDrill, caller(ctx).userId);
  }
}
