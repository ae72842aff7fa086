import { LendingSchema1764000000000 } from './1764000000000-lending-schema';
import { KilnMaintenance1764000000001 } from './1764000000001-kiln-maintenance';

/** All Kiln migrations, oldest first. */
export const migrations = [LendingSchema1764000000000, KilnMaintenance1764000000001];
