/** `npm start`: config → database → server; a clean stop on SIGINT/SIGTERM. Everything it prints is a JSON log line. */
import 'reflect-metadata';
import './config/utc';
import { ConfigError, loadConfig } from './config/config';
import { startKiln } from './kiln';
import { createLogger, type Logger } from './logging/logger';

async function main(): Promise<void> {
  // Until the configuration names the level, what is worth printing at start is printed at info.
  let logger: Logger = createLogger('info');
  // Node prints warnings (and uncaught errors) as plain text on stderr: they go to the log instead.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ err: warning }, `process warning: ${warning.name}`));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: exiting');
    process.exit(1);
  });

  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal({ problems: err.problems }, `Invalid configuration: ${err.problems.join('; ')}`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  logger = createLogger(config.log.level);
  const started = Date.now();
  let kiln;
  try {
    kiln = await startKiln(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'Kiln failed to start');
    process.exit(1);
  }
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
  createLogger('info').fatal({ err }, 'Kiln failed to start');
  process.exit(1);
});
