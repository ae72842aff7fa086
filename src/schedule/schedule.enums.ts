import { registerEnumType } from 'type-graphql';

export enum BackupFrequency {
  DISABLED = 'DISABLED',
  HOURLY = 'HOURLY',
  DAILY = 'DAILY',
  WEEKLY = 'WEEKLY',
  MONTHLY = 'MONTHLY',
  CUSTOM = 'CUSTOM',
  /** A frequency in the app's settings row neither side knows: no timer, listed by backup health. */
  UNKNOWN = 'UNKNOWN',
}

registerEnumType(BackupFrequency, {
  name: 'BackupFrequency',
  valuesConfig: { UNKNOWN: { description: 'A value in backup_schedule_settings neither the app nor Kiln knows (output only): nothing runs.' } },
});

/** How often a scheduled restore drill checks the newest completed backup (the seed advises quarterly). */
export enum DrillFrequency {
  DISABLED = 'DISABLED',
  WEEKLY = 'WEEKLY',
  MONTHLY = 'MONTHLY',
  QUARTERLY = 'QUARTERLY',
  CUSTOM = 'CUSTOM',
}

registerEnumType(DrillFrequency, { name: 'DrillFrequency', valuesConfig: { CUSTOM: { description: 'On drillCron (5 or 6 fields), in the schedule’s zone.' } } });
