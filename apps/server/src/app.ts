/** Builds the HTTP app: transport's Matrix app with every endpoint of this server on it. */
import { createMatrixApp, DEFAULT_MAX_BODY_BYTES, TokenBucketRateLimiter } from '@weft/transport';

import { registerClientApi } from './api/client/index.ts';
import type { ClientApp } from './api/client/routes.ts';
import { registerFederationApi } from './api/federation/index.ts';
import type { FederationApp } from './api/federation/routes.ts';
import type { AuthenticatedUser } from './services/core/context.ts';
import type { Services } from './services/index.ts';

/** The client API's body limit (media uploads have their own, `media.max_upload_bytes`). */
export const CLIENT_MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;

export function createApp(services: Services): ClientApp {
  const { config, log } = services.ctx;
  const app = createMatrixApp<AuthenticatedUser>({
    logger: {
      error: (message, context) =>
        log.error(message, { method: context.method, path: context.path, error: context.error }),
    },
    authenticateToken: (token) => services.accounts.authenticate(token),
    maxBodyBytes: CLIENT_MAX_BODY_BYTES,
    rateLimiter: new TokenBucketRateLimiter({
      burst: config.rateLimit.burst,
      perSecond: config.rateLimit.perSecond,
    }),
  });
  registerClientApi(app, services);
  return app;
}

/**
 * Builds the federation app (served on the TLS listener): the server-server and key endpoints,
 * with X-Matrix verified against the key cache on every `auth: 'server'` endpoint.
 */
export function createFederationApp(services: Services): FederationApp {
  const { config, log } = services.ctx;
  const app = createMatrixApp<AuthenticatedUser>({
    logger: {
      error: (message, context) =>
        log.error(message, { method: context.method, path: context.path, error: context.error }),
    },
    federation: {
      serverName: config.serverName,
      lookupKey: (serverName, keyId) => services.federation.keys.requestKey(serverName, keyId),
    },
    maxBodyBytes: 64 * 1024 * 1024,
  });
  registerFederationApi(app, services);
  return app;
}
