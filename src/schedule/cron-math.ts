import { parseExpression } from 'cron-parser';
import { BackupFrequency, DrillFrequency } from './schedule.enums';

/** The cron each fixed frequency stands for, in the schedule's own zone. */
export const FREQUENCY_CRON: Record<Exclude<BackupFrequency, BackupFrequency.CUSTOM>, string | null> = {
  [BackupFrequency.DISABLED]: null,
  [BackupFrequency.HOURLY]: '0 * * * *',
  [BackupFrequency.DAILY]: '0 2 * * *',
  [BackupFrequency.WEEKLY]: '0 2 * * 0',
  [BackupFrequency.MONTHLY]: '0 2 1 * *',
  [BackupFrequency.UNKNOWN]: null,
};

/** The drills' fixed times in the schedule's zone: 4 AM, after the 2 AM backups and the 3 AM retention run. */
export const DRILL_CRON: Record<Exclude<DrillFrequency, DrillFrequency.CUSTOM>, string | null> = {
  [DrillFrequency.DISABLED]: null,
  [DrillFrequency.WEEKLY]: '0 4 * * 0',
  [DrillFrequency.MONTHLY]: '0 4 1 * *',
  [DrillFrequency.QUARTERLY]: '0 4 1 1,4,7,10 *',
};

/** The zone's canonical IANA name, or undefined when the runtime does not know it. */
export function canonicalZone(timeZone: string): string | undefined {
  if (!timeZone.trim()) return undefined;
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: timeZone.trim() }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Why the expression is not a usable 5- or 6-field cron; undefined when it is. */
export function cronProblem(cron: string, timeZone: string): string | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron must have 5 fields (minute hour day month weekday) or 6 (with seconds first); got ${fields.length}`;
  }
  try {
    parseExpression(cron, { tz: timeZone }).next();
    return undefined;
  } catch (err) {
    return `cron ${JSON.stringify(cron)} is not valid: ${(err as Error).message}`;
  }
}

/**
 * The next `count` fire instants after `from`, as node-schedule computes them
 * (it uses the same parser with the same zone, so these are the true fires).
 */
export function nextFireTimes(cron: string, timeZone: string, from: Date, count: number): Date[] {
  const expression = parseExpression(cron, { tz: timeZone, currentDate: from });
  const times: Date[] = [];
  for (let i = 0; i < count; i++) {
    try {
      times.push(expression.next().toDate());
    } catch {
      break; // no further dates (e.g. 30 February)
    }
  }
  return times;
}

/** The last `count` fires at or before `at`, newest first (fewer when the cron has fewer). */
export function previousFireTimes(cron: string, timeZone: string, at: Date, count: number): Date[] {
  // prev() looks strictly before currentDate: start 1 ms later so a fire at `at` counts.
  const expression = parseExpression(cron, { tz: timeZone, currentDate: new Date(at.getTime() + 1) });
  const times: Date[] = [];
  for (let i = 0; i < count; i++) {
    try {
      times.push(expression.prev().toDate());
    } catch {
      break;
    }
  }
  return times;
}

/** The last fire at or before `at`, or null when there is none. */
export function previousFireTime(cron: string, timeZone: string, at: Date): Date | null {
  return previousFireTimes(cron, timeZone, at, 1)[0] ?? null;
}

/**
 * The shortest gap, in seconds, between consecutive fires among the next `samples`
 * from the start of `from`'s (UTC) day. A cron is a product of field sets, so its shortest gap
 * shows up within a few fires; 24 keeps it quick (each step costs ~10 ms with a zone), and the
 * answer is kept for the day: a schedule saved again costs nothing.
 */
export function shortestGapSeconds(cron: string, timeZone: string, from: Date, samples = 24): number {
  const day = new Date(from);
  day.setUTCHours(0, 0, 0, 0);
  const key = `${day.getTime()} ${samples} ${timeZone} ${cron}`;
  let shortest = shortestGaps.get(key);
  if (shortest === undefined) {
    const times = nextFireTimes(cron, timeZone, day, samples);
    shortest = Infinity;
    for (let i = 1; i < times.length; i++) {
      shortest = Math.min(shortest, (times[i].getTime() - times[i - 1].getTime()) / 1000);
    }
    shortestGaps.set(key, shortest);
    if (shortestGaps.size > 64) shortestGaps.delete(shortestGaps.keys().next().value!);
  }
  return shortest;
}
const shortestGaps = new Map<string, number>();

/** The instant as local wall time with its UTC offset in `timeZone`, e.g. 2026-03-29T02:00:00+01:00. */
export function zonedIso(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  // longOffset reads "GMT+01:00", or just "GMT" at offset zero.
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}
