/**
 * `weft-server`: reads flags and config, starts the server, and shuts it down gracefully on
 * SIGINT/SIGTERM (requests in flight finish and commit before the database closes; connections
 * still open after a deadline, or at a second signal, are cut).
 */
import { ConfigError, loadConfig, USAGE } from './config.ts';
import { startServer } from './server.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (error) {
    if (
      error instanceof ConfigError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`weft-server: ${(error as Error).message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  // A server that stopped itself (its HTTP thread failed) exits non-zero.
  const server = await startServer(config, { onFatal: () => process.exit(1) });
  let signals = 0;
  const shutdown = () => {
    // The first signal stops gracefully (connections get SHUTDOWN_TIMEOUT_MS to end); a second
    // one cuts the connections still open at once. Either way transactions under way finish
    // before the database closes cleanly: what was acknowledged is kept.
    signals += 1;
    server.stop({ force: signals > 1 }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // `on`, not `once`: a second signal must not fall back to the default (an immediate exit that
  // would skip the clean close of the database). `stop()` is idempotent.
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
