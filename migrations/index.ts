import { LendingSchema1764000000000 } from './1764000000000-lending-schema';
import { KilnMaintenance1764000000001 } from './1764000000001-kiln-maintenance';
import { KilnBackupsAndJobs1764000000002 } from './1764000000002-kiln-backups-and-jobs';
import { KilnJobErrorCode1764000000003 } from './1764000000003-kiln-job-error-code';
import { KilnCloudCopies1764000000004 } from './1764000000004-kiln-cloud-copies';
import { KilnSchedule1764000000005 } from './1764000000005-kiln-schedule';
import { KilnRetention1764000000006 } from './1764000000006-kiln-retention';
import { KilnHealthState1764000000007 } from './1764000000007-kiln-health-state';
import { KilnScheduleRunKinds1764000000008 } from './1764000000008-kiln-schedule-run-kinds';
import { KilnOwnSchema1764000000009 } from './1764000000009-kiln-own-schema';
import { KilnRateLimits1764000000010 } from './1764000000010-kiln-rate-limits';
import { KilnRestoreSessions1764000000011 } from './1764000000011-kiln-restore-sessions';
import { KilnDrillSchedule1764000000012 } from './1764000000012-kiln-drill-schedule';
import { KilnNotificationFailures1764000000013 } from './1764000000013-kiln-notification-failures';
import { KilnJobInterruptedCode1764000000014 } from './1764000000014-kiln-job-interrupted-code';
import { KilnBackupSnapshot1764000000015 } from './1764000000015-kiln-backup-snapshot';
import { KilnJournal1764000000016 } from './1764000000016-kiln-journal';

/** All Kiln migrations, oldest first. */
export const migrations = [LendingSchema1764000000000, KilnMaintenance1764000000001, KilnBackupsAndJobs1764000000002, KilnJobErrorCode1764000000003, KilnCloudCopies1764000000004, KilnSchedule1764000000005, KilnRetention1764000000006, KilnHealthState1764000000007, KilnScheduleRunKinds1764000000008, KilnOwnSchema1764000000009, KilnRateLimits1764000000010, KilnRestoreSessions1764000000011, KilnDrillSchedule1764000000012, KilnNotificationFailures1764000000013, KilnJobInterruptedCode1764000000014, KilnBackupSnapshot1764000000015, KilnJournal1764000000016];
