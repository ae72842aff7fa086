import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { BackupRecord } from './records/backup-record';
import { BackupLocation, BackupOrigin, BackupStatus, BackupType } from './backup.enums';

@InputType('CreateBackupInput')
export class CreateBackupInput {
  @Field({ nullable: true, defaultValue: false })
  includeAuditLogs: boolean;

  @Field({ nullable: true, defaultValue: false })
  includeSessions: boolean;

  @Field(() => BackupLocation, { nullable: true, defaultValue: BackupLocation.LOCAL })
  location: BackupLocation;

  @Field({
    nullable: true,
    defaultValue: false,
    description:
      'While another backup, restore or reset runs (or others are queued): false answers CONFLICT, true returns a QUEUED job that starts in its turn (cancel it with cancelJob). Refused while maintenance mode is on.',
  })
  queue: boolean;
}

@InputType('BackupFilter')
export class BackupFilterInput {
  @Field(() => BackupStatus, { nullable: true })
  status?: BackupStatus | null;

  @Field(() => BackupType, { nullable: true })
  type?: BackupType | null;

  @Field(() => BackupLocation, { nullable: true })
  location?: BackupLocation | null;

  @Field(() => BackupOrigin, { nullable: true, description: 'KILN: written by Kiln; APP: recorded by the lending app.' })
  origin?: BackupOrigin | null;
}

@ObjectType('BackupPage')
export class BackupPage {
  @Field(() => [BackupRecord])
  items: BackupRecord[];

  @Field(() => Int)
  total: number;
}
