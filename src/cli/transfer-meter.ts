import { SingleBar } from 'cli-progress';
import type { ProgressOutput } from './job-follower';

/** Counts the bytes of one transfer and shows them: update(done) as bytes pass, end() once. */
export interface TransferMeter {
  update(done: number): void;
  end(): void;
}

/**
 * A download's or upload's progress, where the job meter cannot see it (the bytes have not reached
 * the gateway yet, or are leaving it): a bar with percent, MB and ETA on a terminal (stderr, so
 * stdout keeps the result), a line every tenth when not, `{verb, bytes, total}` lines with --json.
 */
export function transferMeter(output: ProgressOutput, verb: 'download' | 'upload', total: number, from = 0): TransferMeter {
  if (output === 'tty') {
    const bar = new SingleBar({
      format: `${verb} [{bar}] {percentage}% | {done} of {all} MB | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    });
    const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
    bar.start(Math.max(1, total), from, { done: mb(from), all: mb(total) });
    return { update: (done) => bar.update(done, { done: mb(done) }), end: () => bar.stop() };
  }
  let shown = -1;
  const show = (done: number) => {
    const tenth = Math.floor((10 * done) / Math.max(1, total));
    if (tenth === shown) return;
    shown = tenth;
    if (output === 'json') process.stdout.write(`${JSON.stringify({ [verb]: true, bytes: done, total })}\n`);
    else process.stderr.write(`${verb}: ${done.toLocaleString('en')} of ${total.toLocaleString('en')} bytes\n`);
  };
  return { update: show, end: () => undefined };
}
