import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { BenchDatabase } from './bench-databases';

/** The user agent of every audit entry a bench child causes: the parent deletes those entries again. */
export const BENCH_USER_AGENT = 'kiln-bench';

/** What every bench child reports: its figures, or why it has none. */
export type ChildResult<T> = ({ ok: true } & T) | { ok: false; error: string };

/**
 * The environment of a Kiln child against `db`, configured like `npm start` in production:
 * silent, its own DATA_DIR under `dir`, backups in `dir`/backups (children sharing `dir` share backups).
 */
export function kilnEnv(db: BenchDatabase, dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: db.url,
    JWT_SECRET: randomBytes(32).toString('hex'),
    BACKUP_SIGNING_KEY: randomBytes(32).toString('hex'),
    PORT: '0',
    LOG_LEVEL: 'silent',
    DATA_DIR: path.join(dir, 'data'),
    BACKUP_DIR: path.join(dir, 'backups'),
    ...extra,
  };
}

/**
 * Forks bench/`script` (compiled, next to this file) and returns the result it reports over IPC.
 * BENCH_CPU_PROF=<dir> profiles every child (`node --cpu-prof`) into <dir>, one file per child and
 * database, e.g. restore-child-kiln_bench_full.cpuprofile (open in Chrome DevTools or speedscope).
 */
export async function runChild<T>(script: string, env: NodeJS.ProcessEnv): Promise<ChildResult<T>> {
  const profDir = process.env.BENCH_CPU_PROF;
  const name = `${path.basename(script, '.js')}-${new URL(env.DATABASE_URL ?? 'x:/unknown').pathname.slice(1)}`;
  const execArgv = profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = fork(path.join(__dirname, script), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<ChildResult<T>>((resolve) => {
    child.once('message', (m) => resolve(m as ChildResult<T>));
    child.once('exit', (code, signal) => resolve({ ok: false, error: `${script} exited with ${signal ?? code} without a result` }));
  });
}

/** Sends the result to the parent, or prints it as one JSON line when run by hand; then exits. */
export function reportAndExit<T>(result: ChildResult<T>): void {
  if (process.send) process.send(result, () => process.exit(0));
  else {
    console.log(JSON.stringify(result));
    process.exit(0);
  }
}

export const failure = (err: unknown): { ok: false; error: string } => ({
  ok: false,
  error: err instanceof Error ? (err.stack ?? err.message) : String(err),
});
