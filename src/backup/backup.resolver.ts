import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import { PageArgs } from '../api/page-args';
import type { Services } from '../api/services';
import { User } from '../domain';
import { ConflictError } from '../errors/kiln-errors';
import { Job } from '../jobs/job.entity';
import { BackupRecord } from './records/backup-record';
import { BackupType } from './backup.enums';
import { BackupFilterInput, BackupPage, CreateBackupInput } from './backup.inputs';

@ArgsType()
class BackupsArgs extends PageArgs {
  @Field(() => BackupFilterInput, { nullable: true })
  filter?: BackupFilterInput | null;
}

@Resolver(() => BackupRecord)
export class BackupResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => BackupPage)
  backups(@Args() { filter, limit, offset }: BackupsArgs): Promise<BackupPage> {
    return this.services.backups.list(filter ?? {}, limit, offset);
  }

  @Authorized('ADMIN')
  @Query(() => BackupRecord, { nullable: true })
  backup(@Arg('id', () => ID) id: string): Promise<BackupRecord | null> {
    return this.services.backups.get(id);
  }

  @Authorized('ADMIN')
  @Mutation(() => Job, { description: 'Starts a backup and returns its job at once; follow it with jobProgress.' })
  async createBackup(
    @Arg('input', () => CreateBackupInput, { nullable: true }) input: CreateBackupInput | null,
    @Ctx() ctx: KilnContext,
  ): Promise<Job> {
    const { queue, ...given } = stripNulls(input);
    const options = { includeAuditLogs: false, includeSessions: false, location: 'LOCAL', ...given } as CreateBackupInput;
    // A queued backup would hold the job slot ahead of the restore that maintenance is for.
    if (queue && (await this.services.maintenance.get()).enabled) {
      throw new ConflictError('Maintenance mode is on: a queued backup would run ahead of the restore; start it now (queue: false) or after maintenance', {
        maintenance: true,
      });
    }
    return this.services.backups.create(options, BackupType.MANUAL, caller(ctx), ctx.meta, { queue: queue === true });
  }

  @Authorized('ADMIN')
  @Mutation(() => Boolean)
  deleteBackup(@Arg('id', () => ID) id: string, @Ctx() ctx: KilnContext): Promise<boolean> {
    return this.services.backups.delete(id, caller(ctx), ctx.meta);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      "A short-lived URL a browser can open without other credentials: a signed, expiring Cloudinary URL, or this gateway's signed download link.",
  })
  downloadUrl(@Root() backup: BackupRecord, @Ctx() ctx: KilnContext): string | null {
    return this.services.backups.downloadUrl(backup, ctx.baseUrl);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: "A short-lived link of this gateway to the backup as a plain SQL script (psql -v ON_ERROR_STOP=1 -f, into an empty lending schema), streamed from the file wherever it is.",
  })
  sqlDownloadUrl(@Root() backup: BackupRecord, @Ctx() ctx: KilnContext): string | null {
    return this.services.backups.sqlDownloadUrl(backup, ctx.baseUrl);
  }

  @FieldResolver(() => User, { nullable: true })
  createdBy(@Root() backup: BackupRecord, @Ctx() ctx: KilnContext): Promise<User | null> {
    return backup.createdById ? ctx.users.load(backup.createdById) : Promise.resolve(null);
  }
}

/** Explicit nulls from a client mean "the default". */
function stripNulls<T extends object>(value: T | null): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}
