/** Builds the HTTP app: transport's Matrix app with every endpoint of this server on it. */
import { createMatrixApp, TokenBucketRateLimiter } from '@weft/transport';

import { registerClientApi } from './api/client/index.ts';
import type { ClientApp } from './api/client/routes.ts';
import { lookupAccessToken } from './services/accounts/tokens.ts';
import type { AuthenticatedUser } from './services/core/context.ts';
import type { Services } from './services/index.ts';

export function createApp(services: Services): ClientApp {
  const { config, db, log } = services.ctx;
  const app = createMatrixApp<AuthenticatedUser>({
    logger: {
      error: (message, context) =>
        log.error(message, { method: context.method, path: context.path, error: context.error }),
    },
    authenticateToken: (token) => lookupAccessToken(db, token),
    rateLimiter: new TokenBucketRateLimiter({
      burst: config.rateLimit.burst,
      perSecond: config.rateLimit.perSecond,
    }),
  });
  registerClientApi(app, services);
  return app;
}
