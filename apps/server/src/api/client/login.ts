// GET/POST /_matrix/client/v3/login
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3login
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3login
import { clientAddressKey, MatrixError } from '@weft/transport';
import { InvalidLoginError } from '../../services/accounts/service.ts';
import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';
import { type PasswordChecker, UiaPasswordLimiter } from './uia.ts';

const loginLimiters = new WeakMap<PasswordChecker, UiaPasswordLimiter>();

/**
 * Failed password logins, counted per (target user, client address) — not per user alone, so
 * nobody can lock a user out by failing logins as them from elsewhere — in a limiter of login's
 * own (UIA's counts only authenticated UIA password stages).
 */
export function loginFailureLimiter(accounts: PasswordChecker): UiaPasswordLimiter {
  let limiter = loginLimiters.get(accounts);
  if (limiter === undefined) {
    limiter = new UiaPasswordLimiter();
    loginLimiters.set(accounts, limiter);
  }
  return limiter;
}

/** The user ID a login names: `identifier` (m.id.user) or the deprecated top-level `user`. */
function loginUser(body: Record<string, unknown>, serverName: string): string {
  const identifier = body['identifier'];
  let user: unknown = body['user'];
  if (identifier !== undefined) {
    if (typeof identifier !== 'object' || identifier === null) {
      throw MatrixError.badJson('identifier must be an object');
    }
    const { type, user: name } = identifier as Record<string, unknown>;
    if (type !== 'm.id.user') {
      throw new MatrixError(400, 'M_UNKNOWN', 'Only m.id.user identifiers are supported');
    }
    user = name;
  }
  if (typeof user !== 'string' || user === '') throw MatrixError.badJson('No user given');
  if (!user.startsWith('@')) return `@${user.toLowerCase()}:${serverName}`;
  // Localparts of this server are registered lowercase: `@Alice:server` is `@alice:server`, as a
  // bare `Alice` is. Another server's user ID is left as given (it cannot log in here anyway).
  const colon = user.indexOf(':');
  if (colon > 0 && user.slice(colon + 1) === serverName) {
    return `@${user.slice(1, colon).toLowerCase()}:${serverName}`;
  }
  return user;
}

export function registerLogin(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/login',
    auth: 'none',
    handler: () => ({ flows: [{ type: 'm.login.password' }] }),
  });

  clientEndpoint(app, {
    method: 'POST',
    path: '/login',
    auth: 'none',
    rateLimit: true,
    handler: async ({ body, clientAddress }) => {
      if (body['type'] !== 'm.login.password') {
        throw new MatrixError(400, 'M_UNKNOWN', 'Unsupported login type');
      }
      const password = body['password'];
      if (typeof password !== 'string') throw MatrixError.badJson('password must be a string');
      const deviceId = body['device_id'];
      const displayName = body['initial_device_display_name'];
      if (deviceId !== undefined && typeof deviceId !== 'string') {
        throw MatrixError.badJson('device_id must be a string');
      }
      if (displayName !== undefined && typeof displayName !== 'string') {
        throw MatrixError.badJson('initial_device_display_name must be a string');
      }
      const userId = loginUser(body, services.ctx.config.serverName);
      // Wrong passwords are counted per target user and client address (an IPv6 client's /64):
      // past the limit, 429 M_LIMIT_EXCEEDED without checking the password (from there only).
      const failures = loginFailureLimiter(services.accounts);
      const address = clientAddress === undefined ? null : clientAddressKey(clientAddress);
      const key = JSON.stringify([userId, address]);
      const retryAfterMs = failures.retryAfterMs(key);
      if (retryAfterMs !== undefined) {
        throw MatrixError.limitExceeded(retryAfterMs, 'Too many failed password attempts');
      }
      let result: Awaited<ReturnType<typeof services.accounts.loginWithPassword>>;
      try {
        result = await services.accounts.loginWithPassword({
          userId,
          password,
          ...(deviceId !== undefined ? { deviceId } : {}),
          ...(displayName !== undefined ? { deviceDisplayName: displayName } : {}),
        });
      } catch (error) {
        if (error instanceof InvalidLoginError) failures.recordFailure(key);
        throw error;
      }
      failures.recordSuccess(key);
      return {
        user_id: result.userId,
        access_token: result.accessToken,
        device_id: result.deviceId,
        home_server: services.ctx.config.serverName,
        well_known: { 'm.homeserver': { base_url: services.ctx.config.publicBaseUrl } },
      };
    },
  });
}
