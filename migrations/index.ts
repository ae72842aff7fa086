import { LendingSchema1764000000000 } from './1764000000000-lending-schema';
import { KilnMaintenance1764000000001 } from './1764000000001-kiln-maintenance';
import { KilnBackupsAndJobs1764000000002 } from './1764000000002-kiln-backups-and-jobs';
import { KilnJobErrorCode1764000000003 } from './1764000000003-kiln-job-error-code';
import { KilnCloudCopies1764000000004 } from './1764000000004-kiln-cloud-copies';
import { KilnSchedule1764000000005 } from './1764000000005-kiln-schedule';

/** All Kiln migrations, oldest first. */
export const migrations = [LendingSchema1764000000000, KilnMaintenance1764000000001, KilnBackupsAndJobs1764000000002, KilnJobErrorCode1764000000003, KilnCloudCopies1764000000004, KilnSchedule1764000000005];
