import { fork } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '../logging/logger';
import type { EmbeddedPostgresOptions, RunningPostgres } from './embedded-postgres';
import type { WorkerMessage } from './embedded-postgres.worker';

/** Starts the embedded PostgreSQL in a detached child process (see the worker for why). */
export function spawnEmbeddedPostgres(
  options: Omit<EmbeddedPostgresOptions, 'onLog'>,
  logger: Logger,
): Promise<RunningPostgres> {
  const worker = path.join(__dirname, 'embedded-postgres.worker.js');
  const child = fork(worker, [JSON.stringify(options)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return new Promise((resolve, reject) => {
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'log') logger.debug({ component: 'embedded-postgres' }, m.line);
      if (m.type === 'failed') reject(new Error(`embedded PostgreSQL failed to start: ${m.error}`));
      if (m.type === 'ready') {
        resolve({
          url: m.url,
          stop: async () => {
            if (child.connected) child.send('stop');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL process exited with code ${code}`)));
  });
}
