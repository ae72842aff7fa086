import { CliError, ExitCode } from './exit-codes';

/** A whole-number option (`--limit 20`), at least 1 and at most `max`; anything else is a usage error. */
export function positiveInteger(value: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new CliError(`${name} must be a whole number from 1${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}`, ExitCode.USAGE);
  return n;
}
