export enum JobKind {
  BACKUP = 'BACKUP',
  RESTORE = 'RESTORE',
  RESET = 'RESET',
  VERIFY = 'VERIFY',
  RETENTION = 'RETENTION',
  /** A scheduled restore drill: the newest completed backup verified and restored into a scratch schema. */
  DRILL = 'DRILL',
}

export enum JobStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** Kinds that change or read all the lending data: one at a time across all instances. */
export const EXCLUSIVE_KINDS: ReadonlySet<JobKind> = new Set([JobKind.BACKUP, JobKind.RESTORE, JobKind.RESET]);

/**
 * The errorCode of a job its gateway stopped (shut down, crashed, lost the lease) rather than its
 * own work: the scheduler re-runs a fire whose job ended so.
 */
export const INTERRUPTED_ERROR_CODE = 'INTERRUPTED';

export const FINISHED_STATUSES: ReadonlySet<JobStatus> = new Set([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED]);
