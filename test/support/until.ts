/**
 * The one way tests wait for a state: poll until it holds, and fail after a deadline naming what
 * was awaited (and the last value seen). No test sleeps a fixed time instead.
 */

/** Polls `read` until `ok` holds; fails naming `what` and the last value after `ms`. */
export async function until<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, ms = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls `check` until it holds; fails naming `what` after `ms`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 30_000, everyMs = 200): Promise<void> {
  await until(what, check, (ok) => ok, ms, everyMs);
}
