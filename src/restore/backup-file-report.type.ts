import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { SafeIntResolver } from 'graphql-scalars';
import { SignatureCheck } from '../backup/format/backup-signature';

registerEnumType(SignatureCheck, {
  name: 'BackupSignatureCheck',
  description: 'VALID: written by this Kiln and unchanged; UNSIGNED: no signature; OTHER_KEY: another Kiln’s key; MISMATCH: changed after it was signed.',
});

@ObjectType('BackupTableCount')
export class BackupTableCount {
  @Field()
  name: string;

  @Field(() => SafeIntResolver)
  rows: number;
}

@ObjectType('BackupFileReport', { description: 'What an uploaded backup file holds, read in full and checked as a restore would, nothing changed.' })
export class BackupFileReport {
  @Field()
  filename: string;

  @Field(() => SafeIntResolver, { description: 'Size of the file as uploaded.' })
  bytes: number;

  @Field(() => Date, { nullable: true, description: 'When the file says it was written.' })
  createdAt: Date | null;

  @Field(() => String, { nullable: true })
  kilnVersion: string | null;

  @Field({ description: 'Encrypted with one of this gateway’s keys (it was decrypted to be read).' })
  encrypted: boolean;

  @Field(() => SignatureCheck, { description: 'A restore of a file that is not VALID needs allowUnsigned: true.' })
  signature: SignatureCheck;

  @Field(() => SafeIntResolver)
  rows: number;

  @Field(() => [BackupTableCount], { description: 'The tables in file order, with their row counts.' })
  tables: BackupTableCount[];

  @Field(() => [String], { description: 'Tables the file leaves out (audit logs, sessions): a restore keeps their rows as they are.' })
  tablesKept: string[];
}
