/**
 * The demo calendar and money formats. Dates are a fixed calendar (2024-01-01 .. 2025-06-30),
 * never the clock, so the data set does not depend on when it is seeded. Timestamps are
 * `timestamp(3) without time zone` holding UTC, as Prisma stores them; money is integer
 * kobo throughout and only formatted (2 decimals) when written, so sums are exact.
 */
import type { Rng } from './seeded-random.util';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** Fixed epoch: the demo business starts trading on this day. */
export const EPOCH = Date.UTC(2024, 0, 1);
/** "Now" of the demo data set: the last moment anything happens. */
export const AS_OF = Date.UTC(2025, 5, 30, 16, 0, 0);
export const EPOCH_DAY = EPOCH / DAY;
export const AS_OF_DAY = Math.floor(AS_OF / DAY);
export const SPAN_DAYS = AS_OF_DAY - EPOCH_DAY + 1;

/** 08:00–18:00 Africa/Lagos (UTC+1) as a UTC offset into the day, in ms. */
export function workMs(r: Rng): number {
  return 7 * HOUR + Math.floor(r.float() * 10 * HOUR);
}

// A memo of a pure function (one entry per calendar day, ~550): formatting dates is the hot path.
const dayStrings = new Map<number, string>();
export function dayString(day: number): string {
  let s = dayStrings.get(day);
  if (s === undefined) {
    s = new Date(day * DAY).toISOString().slice(0, 10);
    dayStrings.set(day, s);
  }
  return s;
}
export function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}
function pad3(n: number): string {
  return n < 10 ? '00' + n : n < 100 ? '0' + n : String(n);
}
/** 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) for a timestamp(3) without time zone column. */
export function ts(ms: number): string {
  const day = Math.floor(ms / DAY);
  let rest = ms - day * DAY;
  const h = Math.floor(rest / HOUR);
  rest -= h * HOUR;
  const m = Math.floor(rest / MINUTE);
  rest -= m * MINUTE;
  const s = Math.floor(rest / 1000);
  return dayString(day) + ' ' + pad2(h) + ':' + pad2(m) + ':' + pad2(s) + '.' + pad3(rest - s * 1000);
}
export function tsOrNull(ms: number | null): string | null {
  return ms === null ? null : ts(ms);
}
export function addMonths(day: number, months: number): number {
  const d = new Date(day * DAY);
  return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, Math.min(d.getUTCDate(), 28)) / DAY);
}
export function isSunday(day: number): boolean {
  return (day + 4) % 7 === 0; // 1970-01-01 was a Thursday
}

export const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Months since January 2024 (the epoch month), in UTC. */
export function monthIndex(ms: number): number {
  const d = new Date(ms);
  return (d.getUTCFullYear() - 2024) * 12 + d.getUTCMonth();
}
export function monthStartDay(mi: number): number {
  return Date.UTC(2024, mi, 1) / DAY;
}
/** The bootstrap admins' start times: fixed, so they draw nothing from the PRNG. */
export function workMsFixed(i: number): number {
  return 8 * HOUR + i * 17 * MINUTE;
}

// ---------------------------------------------------------------------------
// Money: integer kobo, formatted only on output
// ---------------------------------------------------------------------------

export function money(kobo: number): string {
  if (!Number.isSafeInteger(kobo) || kobo < 0) throw new Error(`seed: bad kobo amount ${kobo}`);
  const naira = Math.floor(kobo / 100);
  return naira + '.' + pad2(kobo - naira * 100);
}
export const N = 100; // kobo per naira
export function displayNaira(kobo: number): string {
  const naira = Math.floor(kobo / 100);
  return '₦' + String(naira).replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + pad2(kobo - naira * 100);
}
