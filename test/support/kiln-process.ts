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
  exited: Promise<number | null>;
}

/** Runs the built gateway (`node dist/src/main.js`, what `npm start` runs) and waits until it is ready. */
export function startKilnProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<KilnProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, any>> = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Kiln not ready after ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line);
      } catch {
        return reject(new Error(`a log line is not JSON: ${line}`));
      }
      logs.push(entry);
      if (entry.msg === 'Kiln is ready') {
        clearTimeout(timer);
        resolve({ child, url: entry.url, logs, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Kiln exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}
