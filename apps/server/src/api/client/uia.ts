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
