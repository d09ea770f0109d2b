/**
 * Starts and stops a homeserver: opens (and migrates) the database, loads the signing key, builds
 * the services and the HTTP app, and listens. `stop()` shuts down gracefully: it stops accepting
 * connections, lets requests in flight finish (their transactions commit), wakes long-polls, and
 * only then closes the database — so nothing acknowledged is lost.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { serve } from '@hono/node-server';
import { CORS_HEADERS, MatrixError, matrixErrorAnswer } from '@weft/transport';

import { answerWithApp } from './answer-with-app.ts';
import { UPLOAD_PATH } from './api/client/media.ts';
import { syncFastPath } from './api/client/sync-fast-path.ts';
import { CLIENT_MAX_BODY_BYTES, createApp, createFederationApp } from './app.ts';
import type { ServerConfig } from './config.ts';
import { startHttpThread } from './http-thread.ts';
import { startIdleMemoryReducer } from './idle-memory.ts';
import { createLog, type Log } from './log.ts';
import type { ServerContext } from './services/core/context.ts';
import { Notifier } from './services/core/notifier.ts';
import { createServices, type Services } from './services/index.ts';
import { loadOrCreateSigningKey } from './signing-key.ts';
import { openDatabase } from './storage/index.ts';

export interface RunningServer {
  /** The base URL the server listens on, e.g. `http://127.0.0.1:8008`. */
  readonly url: string;
  readonly port: number;
  /** The federation (TLS) listener's base URL, when one is configured. */
  readonly federationUrl: string | undefined;
  readonly federationPort: number | undefined;
  readonly services: Services;
  /**
   * Shuts down gracefully; connections still open after {@link SHUTDOWN_TIMEOUT_MS} are cut.
   * `force` (a second signal) cuts them at once — also during a shutdown already under way. The
   * database is closed cleanly either way.
   */
  stop(options?: { readonly force?: boolean }): Promise<void>;
}

/** Most client connections open at once; more are dropped as they come. */
const MAX_CONNECTIONS = 10_000;
/** How long a shutdown waits for client connections to end before cutting them. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

export interface StartOptions {
  readonly log?: Log;
  readonly now?: () => number;
  /**
   * Called after the server stopped itself because its HTTP thread ended unexpectedly (the
   * `weft-server` command exits non-zero, so a supervisor restarts it).
   */
  readonly onFatal?: (error: unknown) => void;
}

export async function startServer(
  config: ServerConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  const log = options.log ?? createLog(config.logLevel);
  const db = await openDatabase(config.database, config.dataDir);
  const ctx: ServerContext = {
    config,
    db,
    log,
    signingKey: loadOrCreateSigningKey(config.dataDir),
    notifier: new Notifier(),
    now: options.now ?? Date.now,
  };
  const services = createServices(ctx);
  // What the services keep in memory from the database (the users with pushers, the ignored
  // user lists) is read before any request is served; a failed read fails the start.
  try {
    await Promise.all([services.pushers.ready, services.accountData.ignoredUsers.ready]);
  } catch (error) {
    await db.close();
    throw error;
  }
  const app = createApp(services);
  // A known-token long-poll skips the Hono app (api/client/sync-fast-path.ts).
  const fastSync = syncFastPath(services, log);
  const appAnswer = answerWithApp(app, log);
  // Sockets and HTTP parsing run on their own thread (http-worker.cts); requests come here.
  // What the HTTP thread's unexpected end calls: until the server is running, it is kept.
  let lostEarly: { error: unknown } | undefined;
  let stopAfterFailure = (error: unknown): void => {
    lostEarly ??= { error };
  };
  const http = await startHttpThread(
    {
      host: config.listen.host,
      port: config.listen.port,
      maxBodyBytes: CLIENT_MAX_BODY_BYTES,
      maxUploadBytes: config.media.maxUploadBytes,
      uploadPath: UPLOAD_PATH.source,
      tooLarge: matrixErrorAnswer(MatrixError.tooLarge(), CORS_HEADERS),
      // Every upload endpoint needs an access token: without one, refused before the body is read.
      missingToken: matrixErrorAnswer(MatrixError.missingToken(), CORS_HEADERS),
      maxInFlightBytes: 4 * config.media.maxUploadBytes,
      busy: matrixErrorAnswer(
        MatrixError.limitExceeded(1000, 'Too many request bodies in flight; retry later'),
        CORS_HEADERS,
      ),
      maxConnections: MAX_CONNECTIONS,
      shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
      errorHeaders: { ...CORS_HEADERS, 'Content-Type': 'application/json' },
    },
    (request) => {
      if (!fastSync(request)) void appAnswer(request);
    },
    {
      exited: (error) => stopAfterFailure(error),
      failed: (error) => log.warn('the HTTP thread survived an error', { error }),
    },
  );
  const port = http.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host}:${port}`;
  log.info('listening', { url, server_name: config.serverName, database: config.database.backend });
  const federation = await listenFederation(config, services, log);
  await services.federation.start();
  services.media.startRetention();
  services.presence.start();
  const idleMemory = startIdleMemoryReducer(log);

  let stopping: Promise<void> | undefined;
  const running: RunningServer = {
    url,
    port,
    federationUrl: federation?.url,
    federationPort: federation?.port,
    services,
    stop(stopOptions) {
      if (stopOptions?.force === true) http.force();
      stopping ??= (async () => {
        log.info('shutting down');
        idleMemory.stop();
        services.federation.stop();
        // Settles once the push gateways' progress is written (before the database closes).
        const pushersStopped = services.pushers.stop();
        const mediaStopped = services.media.stop();
        // Settles once a presence sweep under way wrote what it changes.
        const presenceStopped = services.presence.stop();
        // Stops accepting; requests in flight still finish, and their answers go out.
        const closed = http.close();
        if (stopOptions?.force === true) http.force();
        const federationClosed = federation?.close() ?? Promise.resolve();
        ctx.notifier.wakeAll();
        await closed;
        await federationClosed;
        await mediaStopped;
        await presenceStopped;
        await pushersStopped;
        await db.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
  stopAfterFailure = (error) => {
    // Without its HTTP thread the server answers no client: stop cleanly rather than linger.
    log.error('the HTTP thread stopped; the server stops', { error });
    void running.stop().finally(() => options.onFatal?.(error));
  };
  if (lostEarly !== undefined) stopAfterFailure(lostEarly.error);
  return running;
}

/**
 * The federation listener: HTTPS with the configured certificate, serving the server-server and
 * key APIs (spec server-server-api "Server discovery": federation is always TLS). Not started
 * without `federation.listen`, `tls_cert` and `tls_key`.
 */
async function listenFederation(
  config: ServerConfig,
  services: Services,
  log: Log,
): Promise<{ url: string; port: number; close(): Promise<void> } | undefined> {
  const { enabled, listen, tlsCert, tlsKey } = config.federation;
  if (!enabled || listen === undefined) return undefined;
  if (tlsCert === undefined || tlsKey === undefined) {
    log.warn('federation.listen is set without tls_cert and tls_key: federation is not served');
    return undefined;
  }
  const app = createFederationApp(services);
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
    (resolve, reject) => {
      const server = serve(
        {
          fetch: app.fetch,
          hostname: listen.host,
          port: listen.port,
          createServer: createHttpsServer,
          serverOptions: { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) },
        },
        (info: AddressInfo) => resolve({ server, port: info.port }),
      );
      server.once('error', reject);
    },
  );
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const url = `https://${host}:${port}`;
  log.info('federation listening', { url });
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      }),
  };
}
