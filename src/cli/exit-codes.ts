/**
 * `kiln`'s exit codes, the same for every command (README, "Runbooks"):
 * 0 done; 1 the file, job or check failed (a corrupt file, a failed job, a refused operation);
 * 2 the command line or configuration is wrong (a bad option, a malformed key);
 * 3 the gateway cannot be reached; 4 the gateway refused the credentials (sign in again);
 * 130 stopped by Ctrl-C (a job it followed keeps running).
 */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  UNAUTHENTICATED: 4,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI explains in one line and ends with its exit code (no stack). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
