import type { BenchDatabase } from './bench-databases';
import type { BenchServer } from './bench-server';

/** What every measurement gets: one server, the full and the one-tenth database. */
export interface BenchContext {
  server: BenchServer;
  full: BenchDatabase;
  tenth: BenchDatabase;
  /** A scratch folder for this run, removed at its end. */
  workDir: string;
  /** The backup measurement's pg_dump of the full database (in workDir), once taken: the pg_restore reference restores it. */
  fullDump?: string;
}

/** One line of the printed table; a line with a target says whether it was met. */
export interface ReportLine {
  metric: string;
  value: string;
  target?: string;
  verdict?: 'PASS' | 'MISS' | 'skipped';
}

/** A measurement runs against the context and returns its lines (backup, restore; cloud later). */
export type Measurement = (ctx: BenchContext) => Promise<ReportLine[]>;

export function printReport(lines: ReportLine[]): void {
  const width = (pick: (l: ReportLine) => string | undefined) => Math.max(...lines.map((l) => (pick(l) ?? '').length));
  const [m, v, t] = [width((l) => l.metric), width((l) => l.value), width((l) => l.target)];
  const rule = '-'.repeat(m + v + t + 16);
  console.log(rule);
  for (const l of lines) {
    console.log(`${l.metric.padEnd(m)}  ${l.value.padStart(v)}  ${(l.target ?? '').padEnd(t)}  ${l.verdict ?? ''}`.trimEnd());
  }
  console.log(rule);
  const named = (v: ReportLine['verdict']) => lines.filter((l) => l.verdict === v).map((l) => l.metric).join('; ');
  if (named('MISS')) console.log(`MISSED: ${named('MISS')}`);
  if (named('skipped')) console.log(`SKIPPED (not measured): ${named('skipped')}`);
  if (!named('MISS') && !named('skipped')) console.log('All targets met.');
}

/** Megabytes of 10^6 bytes: targets are stated in MB, so none is met by rounding. */
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
export const seconds = (s: number): string => `${s.toFixed(2)} s`;
export const ratio = (r: number): string => `${r.toFixed(2)}x`;
export const count = (n: number): string => n.toLocaleString('en-US');
export const verdict = (ok: boolean): 'PASS' | 'MISS' => (ok ? 'PASS' : 'MISS');
