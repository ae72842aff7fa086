import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { Job } from '../jobs/job.entity';
import { BackupScheduleInput } from '../schedule/schedule.types';
import { RetentionPreview } from './retention-preview.type';

@Resolver()
export class RetentionResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => RetentionPreview, { description: 'The backups a retention run started now would delete, by the schedule settings (retentionDays, keepAtLeast).' })
  retentionPreview(
    @Arg('schedule', () => BackupScheduleInput, { nullable: true, description: 'Unsaved schedule changes to preview (retentionDays, keepAtLeast); the saved schedule without.' })
    draft: BackupScheduleInput | null,
  ): Promise<RetentionPreview> {
    return this.services.retention.preview(draft);
  }

  @Authorized('ADMIN')
  @Mutation(() => Job, { description: 'Applies retention now as a RETENTION job (CONFLICT while one runs); the job message lists what it deleted.' })
  applyRetention(@Ctx() ctx: KilnContext): Promise<Job> {
    return this.services.retention.start('MANUAL', caller(ctx), ctx.meta);
  }
}
