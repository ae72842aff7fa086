import { Max, Min } from 'class-validator';
import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { BackupRecord } from '../backup/records/backup-record';
import { User } from '../domain';
import { NotFoundError } from '../errors/kiln-errors';
import { Job } from './job.entity';
import { JobStatus } from './job.enums';

@ArgsType()
class JobsArgs {
  @Field(() => JobStatus, { nullable: true })
  status?: JobStatus | null;

  @Field(() => Int, { nullable: true, defaultValue: 20 })
  @Min(1, { message: 'limit must be from 1 to 500' })
  @Max(500, { message: 'limit must be from 1 to 500' })
  limit: number;
}

@Resolver(() => Job)
export class JobResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => Job, { nullable: true })
  job(@Arg('id', () => ID) id: string): Promise<Job | null> {
    return this.services.jobs.get(id);
  }

  @Authorized('ADMIN')
  @Query(() => [Job])
  jobs(@Args() { status, limit }: JobsArgs): Promise<Job[]> {
    return this.services.jobs.list(status ?? undefined, limit);
  }

  @Authorized('ADMIN')
  @Mutation(() => Job, { description: 'A QUEUED job is CANCELLED at once, without running; a RUNNING one is asked to stop. CONFLICT for a finished job.' })
  cancelJob(@Arg('id', () => ID) id: string): Promise<Job> {
    return this.services.jobs.cancel(id);
  }

  @Authorized('ADMIN')
  @Subscription(() => Job, {
    description: 'Every change of one job, or of all jobs when jobId is omitted.',
    subscribe: ({ args, context }) => {
      const ctx = context as KilnContext;
      if (!ctx.jobStream) throw new NotFoundError('Subscription', 'jobProgress');
      return ctx.jobStream((args as { jobId?: string }).jobId);
    },
  })
  jobProgress(@Root() job: Job, @Arg('jobId', () => ID, { nullable: true }) _jobId?: string): Job {
    return job;
  }

  @FieldResolver(() => BackupRecord, { nullable: true, description: 'The backup this job writes (BACKUP), reads (RESTORE, VERIFY) or wrote first (RESET).' })
  backup(@Root() job: Job): Promise<BackupRecord | null> {
    return job.backupId ? this.services.backups.get(job.backupId) : Promise.resolve(null);
  }

  @FieldResolver(() => User, { nullable: true })
  requestedBy(@Root() job: Job, @Ctx() ctx: KilnContext): Promise<User | null> {
    return job.requestedById ? ctx.users.load(job.requestedById) : Promise.resolve(null);
  }
}

