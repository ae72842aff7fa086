import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Time slices for a long job's work on the event loop that also serves the API. A stream whose
 * data is already buffered is consumed in microtasks, and libuv reads a busy socket up to 32 times
 * before it polls again: a backup's export ran 40–100 ms without a pause, and every request waited
 * behind it. The loop calls `pause()` after each piece; once a slice has run `sliceMs`, the
 * pending I/O (an admin's request) is served before the next piece.
 */
export class EventLoopSlice {
  private started: number;

  constructor(
    private readonly sliceMs = 5,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  /** Resolves at once within the slice; past it, on the event loop's next turn. */
  async pause(): Promise<void> {
    if (this.now() - this.started < this.sliceMs) return;
    await nextTurn();
    this.started = this.now();
  }
}
