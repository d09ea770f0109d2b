/**
 * TURN credentials for calls (client-server-api "Voice over IP",
 * https://spec.matrix.org/v1.19/client-server-api/#voice-over-ip). With a shared secret they
 * follow the TURN REST API convention that coturn's `use-auth-secret` checks: the username is
 * `<expiry in unix seconds>:<user ID>` and the password base64(HMAC-SHA1(secret, username)), so
 * the TURN server needs nothing from this one but the secret. The secret is never logged.
 */
import { createHmac } from 'node:crypto';

import type { TurnConfig } from '../../config.ts';

/** The body of `GET /voip/turnServer`. */
export type TurnCredentials = {
  readonly username: string;
  readonly password: string;
  readonly uris: readonly string[];
  /** Seconds. */
  readonly ttl: number;
};

/** Credentials for `userId` valid from `nowMs` for the configured lifetime. */
export function turnCredentials(turn: TurnConfig, userId: string, nowMs: number): TurnCredentials {
  const ttl = Math.floor(turn.userLifetimeMs / 1000);
  const { credentials } = turn;
  if ('sharedSecret' in credentials) {
    const username = `${Math.floor((nowMs + turn.userLifetimeMs) / 1000)}:${userId}`;
    const password = createHmac('sha1', credentials.sharedSecret).update(username).digest('base64');
    return { username, password, uris: turn.uris, ttl };
  }
  return { username: credentials.username, password: credentials.password, uris: turn.uris, ttl };
}
