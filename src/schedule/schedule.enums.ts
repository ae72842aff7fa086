import { registerEnumType } from 'type-graphql';

export enum BackupFrequency {
  DISABLED = 'DISABLED',
  HOURLY = 'HOURLY',
  DAILY = 'DAILY',
  WEEKLY = 'WEEKLY',
  MONTHLY = 'MONTHLY',
  CUSTOM = 'CUSTOM',
}

registerEnumType(BackupFrequency, { name: 'BackupFrequency' });
