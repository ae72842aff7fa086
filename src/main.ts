/** `npm start`: config → database → server; a clean stop on SIGINT/SIGTERM. */
import 'reflect-metadata';
import './config/utc';
import { ConfigError, loadConfig } from './config/config';
import { startKiln } from './kiln';
import { createLogger } from './logging/logger';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.log.level);
  const started = Date.now();
  const kiln = await startKiln(config, logger);
  logger.info({ url: kiln.url, graphql: `${kiln.url}/graphql`, ms: Date.now() - started }, 'Kiln is ready');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    kiln.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'Kiln failed to start', error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
