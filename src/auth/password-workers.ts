import { Worker } from 'node:worker_threads';

// Runs in each worker thread. On Linux the nice value belongs to the thread: at 19 the kernel
// gives the CPU to the event loop (and PostgreSQL) first, so a flood of password checks takes
// only the CPU nothing else wants. bcrypt's sync calls keep the work on this thread.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
try { require('node:os').setPriority(19); } catch {}
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

/**
 * bcrypt on `size` low-priority worker threads, one task per thread at a time; callers bound
 * how many tasks they give at once (PasswordService does, to `size`). Threads start on first use
 * and are unref'd; close() ends them.
 */
export class PasswordWorkers {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly waiting: Array<(worker: Worker) => void> = [];

  constructor(private readonly size: number) {}

  hash(password: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', password, hashOrCost: cost }) as Promise<string>;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', password, hashOrCost: hash }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private async run(task: Task): Promise<unknown> {
    const worker = await this.take();
    try {
      return await new Promise((resolve, reject) => {
        const onMessage = (m: { result?: unknown; error?: string }) => {
          worker.off('error', onError);
          if (m.error !== undefined) reject(new Error(m.error));
          else resolve(m.result);
        };
        const onError = (err: Error) => {
          worker.off('message', onMessage);
          this.all.delete(worker); // a dead thread is replaced on next use
          reject(err);
        };
        worker.once('message', onMessage);
        worker.once('error', onError);
        worker.postMessage(task);
      });
    } finally {
      this.give(worker);
    }
  }

  private take(): Promise<Worker> {
    const worker = this.idle.pop();
    if (worker) return Promise.resolve(worker);
    if (this.all.size < this.size) {
      const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt: require.resolve('bcrypt') } });
      started.unref();
      this.all.add(started);
      return Promise.resolve(started);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(worker: Worker): void {
    if (!this.all.has(worker)) {
      // It died: a waiting task gets a new thread in its place.
      const next = this.waiting.shift();
      if (next) void this.take().then(next);
      return;
    }
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }
}
