import { BackupLocation, BackupStatus, BackupType } from '../backup.enums';

/**
 * The lending app's values in `backup_records` and its backup files, and
 * Kiln's names for them (see shared/reference/README.md). Both directions live
 * here so the two can never drift apart.
 */

/** The app's data keys (format 1.0 files, recordCounts) in the app's file order, and the table each holds. */
export const APP_DATA_KEYS = {
  companySettings: 'CompanySetting',
  loanTypes: 'LoanType',
  documentTypes: 'DocumentType',
  users: 'User',
  unions: 'Union',
  unionMembers: 'UnionMember',
  loans: 'Loan',
  repaymentScheduleItems: 'RepaymentScheduleItem',
  repayments: 'Repayment',
  repaymentAllocations: 'RepaymentAllocation',
  unionMemberDocuments: 'UnionMemberDocument',
  loanDocuments: 'LoanDocument',
  auditLogs: 'AuditLog',
  staffSessions: 'StaffSession',
  unionAssignmentHistory: 'UnionAssignmentHistory',
  unionMemberReassignments: 'UnionMemberReassignment',
  userLoginHistory: 'UserLoginHistory',
  userNotes: 'UserNote',
  reportSessions: 'ReportSession',
} as const satisfies Record<string, string>;

const TABLE_OF_DATA_KEY = new Map<string, string>(Object.entries(APP_DATA_KEYS));

/** The app's recordCounts (every data key, 0 for a table left out) from Kiln's per-table counts. */
export function toAppRecordCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(APP_DATA_KEYS).map((key) => [key, counts[APP_DATA_KEYS[key as keyof typeof APP_DATA_KEYS]] ?? 0]));
}

/** Per-table counts from the app's recordCounts; a key the map lacks is kept under its own name. */
export function fromAppRecordCounts(counts: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(counts)) {
    if (typeof value === 'number') out[TABLE_OF_DATA_KEY.get(key) ?? key] = value;
  }
  return out;
}

/** The largest value of the app's INT4 `fileSize`; the exact size stays in Kiln's table. */
export const APP_FILE_SIZE_MAX = 2_147_483_647;

const STATUS_TO_APP: Record<Exclude<BackupStatus, BackupStatus.UNKNOWN>, string> = {
  [BackupStatus.IN_PROGRESS]: 'in_progress',
  [BackupStatus.COMPLETED]: 'completed',
  [BackupStatus.FAILED]: 'failed',
};

const TYPE_TO_APP: Record<Exclude<BackupType, BackupType.UNKNOWN>, string> = {
  [BackupType.MANUAL]: 'manual',
  [BackupType.SCHEDULED]: 'scheduled',
  // The app knows only manual and scheduled; its own safety copies are manual too.
  [BackupType.PRE_RESTORE]: 'manual',
  [BackupType.PRE_RESET]: 'manual',
};

const LOCATION_TO_APP: Record<Exclude<BackupLocation, BackupLocation.UNKNOWN>, string> = {
  [BackupLocation.LOCAL]: 'local',
  [BackupLocation.CLOUD]: 'cloud',
  [BackupLocation.BOTH]: 'both',
};

export function appStatus(status: BackupStatus): string {
  return status === BackupStatus.UNKNOWN ? 'unknown' : STATUS_TO_APP[status];
}

export function appType(type: BackupType): string {
  return type === BackupType.UNKNOWN ? 'unknown' : TYPE_TO_APP[type];
}

export function appLocation(location: BackupLocation): string {
  return location === BackupLocation.UNKNOWN ? 'unknown' : LOCATION_TO_APP[location];
}

/** Kiln's name for an app value (case-insensitive); undefined when neither side knows it. */
function parse<T extends string>(table: Record<string, string>, stored: string): T | undefined {
  const lower = stored.toLowerCase();
  return Object.entries(table).find(([, app]) => app === lower)?.[0] as T | undefined;
}

export const parseAppStatus = (stored: string) => parse<BackupStatus>(STATUS_TO_APP, stored);
export const parseAppType = (stored: string) => parse<BackupType>({ [BackupType.MANUAL]: 'manual', [BackupType.SCHEDULED]: 'scheduled' }, stored);
export const parseAppLocation = (stored: string) => parse<BackupLocation>(LOCATION_TO_APP, stored);
