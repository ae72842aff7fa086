/**
 * Turns a job's raw counters into the progress clients see: percent that
 * never goes back, an ETA from the observed rate, and events at most ten and
 * at least one a second.
 */
export interface ProgressSnapshot {
  phase: string | null;
  table: string | null;
  percent: number;
  rowsDone: number;
  rowsTotal: number | null;
  bytesDone: number;
  etaSeconds: number | null;
}

/** What a step of a job reports to; a ProgressMeter, or an adapter that folds a step into a bigger job. */
export interface ProgressSink {
  update(change: Partial<Omit<ProgressSnapshot, 'percent' | 'etaSeconds'>>): void;
}

export const MIN_EVENT_INTERVAL_MS = 100;
export const MAX_EVENT_INTERVAL_MS = 1000;

export class ProgressMeter implements ProgressSink {
  private state: ProgressSnapshot = { phase: null, table: null, percent: 0, rowsDone: 0, rowsTotal: null, bytesDone: 0, etaSeconds: null };
  private readonly startedAt = Date.now();
  private lastEmit = 0;
  private timer?: NodeJS.Timeout;

  /** `emit` gets every published snapshot; it must not throw. */
  constructor(private readonly emit: (snapshot: ProgressSnapshot) => void) {}

  start(): void {
    this.timer = setInterval(() => {
      if (Date.now() - this.lastEmit >= MAX_EVENT_INTERVAL_MS - 50) this.flush();
    }, MAX_EVENT_INTERVAL_MS / 4);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get snapshot(): ProgressSnapshot {
    return { ...this.state };
  }

  update(change: Partial<Omit<ProgressSnapshot, 'percent' | 'etaSeconds'>>): void {
    Object.assign(this.state, change);
    const { rowsDone, rowsTotal } = this.state;
    if (rowsTotal && rowsTotal > 0) {
      // Planner estimates can be low: stay below 100 until the job really ends.
      const raw = Math.min(99, (rowsDone / rowsTotal) * 100);
      this.state.percent = Math.max(this.state.percent, Math.round(raw * 10) / 10);
      const elapsed = (Date.now() - this.startedAt) / 1000;
      this.state.etaSeconds = rowsDone > 0 ? Math.max(0, Math.round(((rowsTotal - rowsDone) * elapsed) / rowsDone)) : null;
    }
    if (Date.now() - this.lastEmit >= MIN_EVENT_INTERVAL_MS) this.flush();
  }

  /** The end: 100 %, no ETA. */
  complete(): ProgressSnapshot {
    this.stop();
    this.state.percent = 100;
    this.state.etaSeconds = 0;
    return this.snapshot;
  }

  private flush(): void {
    this.lastEmit = Date.now();
    this.emit(this.snapshot);
  }
}
