import type { ProgressSink } from '../jobs/progress-meter';

/**
 * A restore's progress as one count of rows: the PRE_RESTORE safety backup's rows, then the
 * file's rows as they are loaded. The file's rows are known before the load only for a stored
 * backup (its recorded counts); until then the live data's size (the safety backup's) stands in.
 */
export class RestoreProgress {
  private safetyRows = 0;
  private safetyEstimate = 0;

  constructor(
    private readonly meter: ProgressSink,
    private readonly fileRows: number | undefined,
  ) {}

  /** Reading the file's header. */
  checking(): void {
    this.meter.update({ phase: 'validate' });
  }

  /** The safety backup's own progress: its rows, and its estimate of all it will read. */
  readonly safety = (change: { rowsDone?: number; rowsTotal?: number | null }): void => {
    this.safetyRows = change.rowsDone ?? this.safetyRows;
    this.safetyEstimate = change.rowsTotal ?? this.safetyEstimate;
    const live = Math.max(this.safetyEstimate, this.safetyRows);
    this.meter.update({ phase: 'safety', table: null, rowsDone: this.safetyRows, rowsTotal: live + (this.fileRows ?? live) });
  };

  /** The rows of the file loaded so far, in `table` now. */
  readonly loading = (rows: number, table: string | null): void => {
    const file = Math.max(this.fileRows ?? this.safetyRows, rows);
    this.meter.update({ phase: 'restore', table, rowsDone: this.safetyRows + rows, rowsTotal: this.safetyRows + file });
  };
}

/** The rows a stored backup's record counts (the app's records count too); undefined when it has none. */
export function recordedRows(recordCounts: Record<string, number> | null | undefined): number | undefined {
  const counts = Object.values(recordCounts ?? {});
  return counts.length ? counts.reduce((n, c) => n + c, 0) : undefined;
}
