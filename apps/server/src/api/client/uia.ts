/**
 * User-Interactive Authentication (client-server-api "User-Interactive Authentication API"):
 * a request without `auth` gets 401 with the flows it may complete and a session ID; the client
 * repeats it with `auth` filled in. Weft offers `m.login.dummy` for registration and
 * `m.login.password` for sensitive actions (deleting devices).
 */
import { randomBytes } from 'node:crypto';

import { jsonResponse, MatrixError } from '@weft/transport';

/** Answers a request that still needs UIA: 401 with the flows and a fresh session. */
export function uiaChallenge(
  stages: readonly string[],
  completed: readonly string[] = [],
): Response {
  return jsonResponse(
    {
      flows: [{ stages: [...stages] }],
      params: {},
      session: randomBytes(12).toString('base64url'),
      ...(completed.length > 0 ? { completed: [...completed] } : {}),
    },
    401,
  );
}

/** The `auth` object of a UIA request, or `undefined` when absent. */
export function uiaAuth(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const auth = body['auth'];
  if (auth === undefined || auth === null) return undefined;
  if (typeof auth !== 'object' || Array.isArray(auth))
    throw MatrixError.badJson('auth must be an object');
  return auth as Record<string, unknown>;
}

/**
 * Spec "Password-based" UIA stage for sensitive actions: without `auth` → 401 challenge; with an
 * `m.login.password` stage naming the caller and their right password → `undefined` (go on); a
 * wrong password → 401 with `errcode` `M_FORBIDDEN` and the flows again, as the spec's
 * "User-interactive authentication API" describes for a failed stage.
 */
export async function requirePassword(
  body: Record<string, unknown>,
  userId: string,
  checkPassword: (userId: string, password: string) => Promise<boolean>,
): Promise<Response | undefined> {
  const auth = uiaAuth(body);
  if (auth === undefined || auth['type'] !== 'm.login.password') {
    return uiaChallenge(['m.login.password']);
  }
  const identifier = auth['identifier'];
  let named: unknown = auth['user'];
  if (typeof identifier === 'object' && identifier !== null) {
    named = (identifier as Record<string, unknown>)['user'];
  }
  const password = auth['password'];
  const localpart = userId.slice(1, userId.indexOf(':'));
  const sameUser = named === undefined || named === userId || named === localpart;
  if (typeof password === 'string' && sameUser && (await checkPassword(userId, password))) {
    return undefined;
  }
  return jsonResponse(
    {
      errcode: 'M_FORBIDDEN',
      error: 'Invalid password',
      flows: [{ stages: ['m.login.password'] }],
      params: {},
      ...(typeof auth['session'] === 'string' ? { session: auth['session'] } : {}),
    },
    401,
  );
}
