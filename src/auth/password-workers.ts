import { Worker } from 'node:worker_threads';

// Runs in each worker thread. On Linux the nice value belongs to the thread: at 19 the kernel
// gives the CPU to the event loop (and PostgreSQL) first, so a flood of password checks takes
// only the CPU nothing else wants. bcrypt's sync calls keep the work on this thread.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
try { require('node:os').setPriority(workerData.nice); } catch {}
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ op, password, hashOrCost }) => {
  try {
    const result = op === 'hash' ? bcrypt.hashSync(password, hashOrCost) : bcrypt.compareSync(password, hashOrCost);
    parentPort.postMessage({ result });
  } catch (err) {
    parentPort.postMessage({ error: err && err.message ? err.message : String(err) });
  }
});
`;

type Task = { op: 'hash'; password: string; hashOrCost: number } | { op: 'compare'; password: string; hashOrCost: string };

/** A worker thread stopped (it crashed, or close() ended it) before it answered: not a wrong password. */
export class PasswordWorkerError extends Error {
  override readonly name = 'PasswordWorkerError';
}

/**
 * bcrypt on `size` low-priority worker threads, one task per thread at a time; callers bound
 * how many tasks they give at once (PasswordService does, to `size`). Threads start on first use
 * and are unref'd; close() ends them and fails what still waits.
 */
export class PasswordWorkers {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly waiting: Array<{ resolve: (worker: Worker) => void; reject: (err: Error) => void }> = [];
  private closed = false;

  constructor(
    private readonly size: number,
    /** The threads' nice value, 0 (normal) to 19 (lowest). */
    private readonly nice = 19,
  ) {}

  hash(password: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', password, hashOrCost: cost }) as Promise<string>;
  }

  /** Rejects with the worker's message for a malformed hash, with PasswordWorkerError if the thread stopped. */
  compare(password: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', password, hashOrCost: hash }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new PasswordWorkerError('password checks are shut down'));
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private async run(task: Task): Promise<unknown> {
    const worker = await this.take();
    try {
      return await new Promise((resolve, reject) => {
        const done = () => {
          worker.off('message', onMessage);
          worker.off('error', onStopped);
          worker.off('exit', onStopped);
        };
        const onMessage = (m: { result?: unknown; error?: string }) => {
          done();
          if (m.error !== undefined) reject(new Error(m.error));
          else resolve(m.result);
        };
        const onStopped = (err?: unknown) => {
          done();
          this.all.delete(worker); // a dead thread is replaced on next use
          reject(new PasswordWorkerError(`a password worker stopped: ${err instanceof Error ? err.message : `exit ${String(err)}`}`));
        };
        worker.on('message', onMessage);
        worker.on('error', onStopped);
        worker.on('exit', onStopped);
        worker.postMessage(task);
      });
    } finally {
      this.give(worker);
    }
  }

  private take(): Promise<Worker> {
    if (this.closed) return Promise.reject(new PasswordWorkerError('password checks are shut down'));
    const worker = this.idle.pop();
    if (worker) return Promise.resolve(worker);
    if (this.all.size < this.size) {
      const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt: require.resolve('bcrypt'), nice: this.nice } });
      started.unref();
      this.all.add(started);
      return Promise.resolve(started);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private give(worker: Worker): void {
    if (!this.all.has(worker)) {
      // It died: a waiting task gets a new thread in its place.
      const next = this.waiting.shift();
      if (next) this.take().then(next.resolve, next.reject);
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(worker);
    else this.idle.push(worker);
  }
}
