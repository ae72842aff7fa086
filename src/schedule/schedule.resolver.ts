import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { BackupSchedule } from './settings/backup-schedule';
import { BackupScheduleInput, ScheduledRun } from './schedule.types';

@Resolver(() => BackupSchedule)
export class ScheduleResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => BackupSchedule)
  backupSchedule(): Promise<BackupSchedule> {
    return this.services.schedule.get();
  }

  @Authorized('ADMIN')
  @Mutation(() => BackupSchedule, { description: 'Changes the schedule; every instance follows within seconds, without a restart.' })
  updateBackupSchedule(@Arg('input', () => BackupScheduleInput) input: BackupScheduleInput, @Ctx() ctx: KilnContext): Promise<BackupSchedule> {
    return this.services.schedule.update(input, caller(ctx), ctx.meta);
  }

  @Authorized('ADMIN')
  @Query(() => [ScheduledRun], { description: 'The next fire times of the schedule (after `after`, default now), so admins see what daylight saving does.' })
  nextBackupRuns(
    @Arg('count', () => Int, { defaultValue: 5 }) count: number,
    @Arg('after', () => DateTimeISOResolver, { nullable: true }) after: Date | null,
    @Arg('schedule', () => BackupScheduleInput, { nullable: true, description: 'Unsaved changes to preview (validated as updateBackupSchedule does); the saved schedule without.' })
    draft: BackupScheduleInput | null,
  ): Promise<ScheduledRun[]> {
    return this.services.schedule.nextRuns(count, after, draft);
  }
}
