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
