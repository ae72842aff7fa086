import { setTimeout as sleep } from 'node:timers/promises';

/** Longest a refusal is held. */
const MAX_HOLD_MS = 1000;

/**
 * Holds refusals (429) until the client may try again, at most 1 s: a client that ignores
 * Retry-After then loops about once a second per connection instead of thousands of times, and
 * a held answer costs a timer. At most `capacity` are held at once; past that, they go at once.
 */
export class Tarpit {
  private held = 0;

  constructor(private readonly capacity = 1000) {}

  /** Resolves after `ms` (capped at 1 s), or at once when the tarpit is full. */
  async hold(ms: number): Promise<void> {
    if (this.held >= this.capacity) return;
    this.held++;
    try {
      await sleep(Math.min(Math.max(0, ms), MAX_HOLD_MS));
    } finally {
      this.held--;
    }
  }

  get full(): boolean {
    return this.held >= this.capacity;
  }
}
