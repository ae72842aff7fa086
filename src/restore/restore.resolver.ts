import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import GraphQLUpload from 'graphql-upload/GraphQLUpload.mjs';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { Job } from '../jobs/job.entity';
import { BackupFileReport } from './backup-file-report.type';

@Resolver()
export class RestoreResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Mutation(() => Job, { description: 'Exactly one of id (a stored backup) or file (an uploaded backup file).' })
  restoreBackup(
    @Arg('id', () => ID, { nullable: true }) id: string | null,
    @Arg('file', () => GraphQLUpload, { nullable: true }) file: Promise<FileUpload> | null,
    @Arg('allowUnsigned', () => Boolean, {
      defaultValue: false,
      description: 'Restore a file whose Kiln signature does not verify: an app format 1.0 backup, a foreign or edited file. Only for files you trust.',
    })
    allowUnsigned: boolean,
    @Ctx() ctx: KilnContext,
  ): Promise<Job> {
    return this.services.restore.restore(id, file, caller(ctx), ctx.meta, { allowUnsigned });
  }

  @Authorized('ADMIN')
  @Mutation(() => Job, {
    description:
      'Restores the lending data as they were at `at`: the newest backup taken before it, plus every change the journal holds up to `at`, in one transaction (as restoreBackup: maintenance mode, safety backup, sessions revoked). Needs the schedule’s continuous journal; an instant it cannot restore is BAD_USER_INPUT naming the ones it can.',
  })
  restoreToPointInTime(@Arg('at', () => DateTimeISOResolver) at: Date, @Ctx() ctx: KilnContext): Promise<Job> {
    return this.services.restore.restoreToPointInTime(at, caller(ctx), ctx.meta);
  }

  @Authorized('ADMIN')
  @Mutation(() => BackupFileReport, {
    description: 'Reads an uploaded backup file through, as a restore would, and says what it holds (tables, rows, signature) before you restore it. Changes nothing; like every upload, only in maintenance mode.',
  })
  inspectBackupFile(@Arg('file', () => GraphQLUpload) file: Promise<FileUpload>): Promise<BackupFileReport> {
    return this.services.restore.inspectUpload(file);
  }
}
