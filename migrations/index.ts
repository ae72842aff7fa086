import { LendingSchema1764000000000 } from './1764000000000-lending-schema';
import { KilnMaintenance1764000000001 } from './1764000000001-kiln-maintenance';
import { KilnBackupsAndJobs1764000000002 } from './1764000000002-kiln-backups-and-jobs';

/** All Kiln migrations, oldest first. */
export const migrations = [LendingSchema1764000000000, KilnMaintenance1764000000001, KilnBackupsAndJobs1764000000002];
