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

/** How far back previousFireTimes looks: past any cron's longest gap (29 February comes every 4 to 8 years). */
const MAX_LOOKBACK_MS = 16 * 366 * 24 * 3600 * 1000;
/** A wall time happens twice only in the hours after the clocks go back: one in most zones, three at most since 1970 (Antarctica/Casey, 2010). */
const REPEATED_WALL_TIME_MS = 3 * 3600 * 1000;

/**
 * The last `count` fires at or before `at`, newest first (fewer when the cron has fewer): the fires
 * node-schedule made, found as it finds them, going forward. (cron-parser's prev() names the second
 * of a wall time that happens twice, where next() and so node-schedule fire at the first: 02:00 on
 * Sydney's autumn day was a "missed" fire an hour after it ran.) prev() only guesses where to start;
 * the start is moved clear of a repeated wall time (from inside its second pass, next() would name
 * that pass's fires, which the chain of fires skips) and eight times further back until the search
 * holds `count` fires. Each answer is kept until the next fire, as health checks and the scheduler's
 * polls ask again and again (a step costs cron-parser ~4 ms with a zone).
 */
export function previousFireTimes(cron: string, timeZone: string, at: Date, count: number): Date[] {
  const key = `${count} ${timeZone} ${cron}`;
  const t = at.getTime();
  const kept = previousFires.get(key);
  if (kept && t >= kept.from && t < kept.until) return [...kept.fires];
  // next() gives fires strictly after its start: start just before the oldest guessed fire.
  for (let lookbackMs = Math.max(60_000, t - oldestPreviousMatch(cron, timeZone, t, count) + 1); ; lookbackMs *= 8) {
    lookbackMs = Math.min(lookbackMs, MAX_LOOKBACK_MS);
    const expression = parseExpression(cron, { tz: timeZone, currentDate: new Date(clearOfRepeatedWallTime(t - lookbackMs, timeZone)) });
    const found: Date[] = [];
    let after = Infinity;
    for (;;) {
      let fire: Date;
      try {
        fire = expression.next().toDate();
      } catch {
        break; // no further dates (e.g. 30 February), or cron-parser gave up searching
      }
      if (fire.getTime() > t) {
        after = fire.getTime();
        break;
      }
      found.push(fire);
    }
    if (found.length >= count || lookbackMs === MAX_LOOKBACK_MS) {
      const fires = found.slice(-count).reverse();
      // The same answer for any instant from the newest of them until the next fire (or an hour, when none was found).
      const until = Number.isFinite(after) ? after : t + 3600 * 1000;
      previousFires.set(key, { from: fires.length > 0 ? fires[0].getTime() : -Infinity, until, fires });
      if (previousFires.size > 64) previousFires.delete(previousFires.keys().next().value!);
      return [...fires];
    }
  }
}
const previousFires = new Map<string, { from: number; until: number; fires: Date[] }>();

/** Forgets the answers previousFireTimes keeps (tests that check every instant afresh). */
export function forgetPreviousFires(): void {
  previousFires.clear();
}

/**
 * The oldest of the last `count` instants the cron matches at or before `t` (prev(), which counts a repeated
 * wall time twice), or a minute before `t` when there is none: a first guess, widened when it holds too few.
 */
function oldestPreviousMatch(cron: string, timeZone: string, t: number, count: number): number {
  const expression = parseExpression(cron, { tz: timeZone, currentDate: new Date(t + 1) });
  let oldest = t - 60_000;
  for (let i = 0; i < count; i++) {
    try {
      oldest = Math.min(oldest, expression.prev().getTime());
    } catch {
      break;
    }
  }
  return oldest;
}

/** `ms`, or earlier when the clocks went back in the hours before it: a start that is no repeated wall time. */
function clearOfRepeatedWallTime(ms: number, timeZone: string): number {
  while (utcOffsetMinutes(new Date(ms - REPEATED_WALL_TIME_MS), timeZone) > utcOffsetMinutes(new Date(ms), timeZone)) ms -= REPEATED_WALL_TIME_MS;
  return ms;
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
  const parts = wallTimeParts(instant, timeZone);
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offsetOf(parts)}`;
}

/** The zone's offset from UTC at `instant`, in minutes (east positive). */
export function utcOffsetMinutes(instant: Date, timeZone: string): number {
  const [, sign, hours, minutes] = /([+-])(\d\d):(\d\d)/.exec(offsetOf(wallTimeParts(instant, timeZone)))!;
  return (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
}

// longOffset reads "GMT+01:00", or just "GMT" at offset zero.
const offsetOf = (parts: Record<string, string>) => (parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', ''));

function wallTimeParts(instant: Date, timeZone: string): Record<string, string> {
  let format = wallTimeFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
    wallTimeFormats.set(timeZone, format);
    if (wallTimeFormats.size > 64) wallTimeFormats.delete(wallTimeFormats.keys().next().value!);
  }
  return Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
}
const wallTimeFormats = new Map<string, Intl.DateTimeFormat>();
