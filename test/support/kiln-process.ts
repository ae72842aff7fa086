import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

// From test/support (under jest) or dist/test/support (compiled into the bench): the built gateway.
const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.basename(ROOT) === 'dist' ? path.join(ROOT, 'src/main.js') : path.join(ROOT, 'dist/src/main.js');

export interface KilnProcess {
  child: ChildProcess;
  url: string;
  /** Every JSON log line so far. */
  logs: Array<Record<string, any>>;
  /** Every line written so far, as written (all of them should be JSON log lines). */
  output: KilnOutput;
  exited: Promise<number | null>;
  /** Exited, and its stdout and stderr read to their end: no line comes after this. */
  ended: Promise<void>;
}

export interface KilnOutput {
  stdout: string[];
  stderr: string[];
}

/** `node dist/src/main.js` with `env`, its stdout and stderr collected line by line (each stdout line also to `onLine`). */
function spawnKiln(
  env: Record<string, string>,
  onLine: (line: string) => void = () => undefined,
): Pick<KilnProcess, 'child' | 'output' | 'exited' | 'ended'> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: KilnOutput = { stdout: [], stderr: [] };
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    output.stdout.push(line);
    onLine(line);
  });
  readline.createInterface({ input: child.stderr! }).on('line', (line) => output.stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // 'close' comes once the streams have ended (readline has had their last line by then).
  const ended = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, output, exited, ended };
}

/** Runs the built gateway (`node dist/src/main.js`, what `npm start` runs) and waits until it is ready. */
export function startKilnProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<KilnProcess> {
  const logs: Array<Record<string, any>> = [];
  return new Promise((resolve, reject) => {
    let ready = false;
    // A start that fails the test leaves no gateway running behind it (jest would wait for it).
    const fail = (err: Error) => {
      if (ready) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const { child, output, exited, ended } = spawnKiln(env, (line) => {
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line);
      } catch {
        return fail(new Error(`a log line is not JSON: ${line}`));
      }
      logs.push(entry);
      if (entry.msg === 'Kiln is ready' && !ready) {
        ready = true;
        clearTimeout(timer);
        resolve({ child, url: entry.url, logs, output, exited, ended });
      }
    });
    const said = () => [...output.stdout, ...output.stderr].join('\n');
    const timer = setTimeout(() => fail(new Error(`Kiln not ready after ${timeoutMs} ms:\n${said()}`)), timeoutMs);
    void exited.then((code) => fail(new Error(`Kiln exited with ${code} before it was ready:\n${said()}`)));
  });
}

/** Runs the built gateway expecting it to stop by itself (a start that fails); its exit code and every line it wrote. */
export async function runKilnProcessToExit(env: Record<string, string>, timeoutMs = 60_000): Promise<KilnOutput & { code: number | null }> {
  const { child, output, exited, ended } = spawnKiln(env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await exited;
    await ended;
    return { code, ...output };
  } finally {
    clearTimeout(timer);
  }
}
