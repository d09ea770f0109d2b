/** Builds the HTTP app: transport's Matrix app with every endpoint of this server on it. */
import { BlockList, isIP } from 'node:net';

import { createMatrixApp, DEFAULT_MAX_BODY_BYTES, TokenBucketRateLimiter } from '@weft/transport';

import { registerClientApi } from './api/client/index.ts';
import type { ClientApp } from './api/client/routes.ts';
import { registerFederationApi } from './api/federation/index.ts';
import type { FederationApp } from './api/federation/routes.ts';
import { parseCidr } from './config.ts';
import type { AuthenticatedUser } from './services/core/context.ts';
import type { Services } from './services/index.ts';

/** The client API's body limit (media uploads have their own, `media.max_upload_bytes`). */
export const CLIENT_MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;

export function createApp(services: Services): ClientApp {
  const { config, log } = services.ctx;
  const trustedProxy =
    config.trustedProxies.length > 0 ? trustedProxyCheck(config.trustedProxies) : undefined;
  const app = createMatrixApp<AuthenticatedUser>({
    logger: {
      error: (message, context) =>
        log.error(message, { method: context.method, path: context.path, error: context.error }),
    },
    authenticateToken: (token) => services.accounts.authenticate(token),
    maxBodyBytes: CLIENT_MAX_BODY_BYTES,
    // Requests without a token are limited per client address (the HTTP thread passes each
    // connection's; `trusted_proxies` may vouch for X-Forwarded-For), not in one shared bucket.
    rateLimiter: new TokenBucketRateLimiter({
      burst: config.rateLimit.burst,
      perSecond: config.rateLimit.perSecond,
    }),
    // Transport's default key (user, else client address); login reads the same client address.
    ...(trustedProxy !== undefined ? { trustedProxy } : {}),
  });
  registerClientApi(app, services);
  return app;
}

/**
 * Whether an address is one of `trusted` (IP addresses or CIDRs, as config.ts checked them);
 * an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, a dual-stack socket's) as its IPv4 address.
 */
export function trustedProxyCheck(trusted: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of trusted) {
    const parsed = parseCidr(entry);
    if (parsed !== undefined) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const plain = mapped === null ? address : (mapped[1] as string);
    const version = isIP(plain);
    return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  };
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
