/**
 * OpenID (client-server-api "OpenID", https://spec.matrix.org/v1.19/client-server-api/#openid, and
 * server-server-api "OpenID"): a user asks for a token (`POST /user/{userId}/openid/request_token`)
 * and hands it to a third party, which asks this server who it belongs to
 * (`GET /_matrix/federation/v1/openid/userinfo`). Tokens are 32 random bytes, stored as their
 * SHA-256 with an expiry of {@link OPENID_TOKEN_LIFETIME_MS}; expired rows are removed when a new
 * token is issued. Tokens are never logged.
 */
import { hash, randomBytes } from 'node:crypto';

import { ErrCode, MatrixError } from '@weft/transport';

import type { ServerContext } from '../core/context.ts';
import { deleteExpiredOpenIdTokens, insertOpenIdToken, selectOpenIdUser } from './store.ts';

/** How long an OpenID token is accepted: one hour (as Synapse). */
export const OPENID_TOKEN_LIFETIME_MS = 3_600_000;

/** `OpenIdCredentials` of openid.yaml. */
export type OpenIdCredentials = {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly matrix_server_name: string;
  readonly expires_in: number;
};

const hashToken = (token: string) => hash('sha256', token, 'hex');

export class OpenIdService {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** A new token for `userId` (the caller itself: the endpoint checks that). */
  async requestToken(userId: string): Promise<OpenIdCredentials> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#ctx.now();
    await this.#ctx.db.transaction(async (tx) => {
      await deleteExpiredOpenIdTokens(tx, now);
      await insertOpenIdToken(tx, hashToken(token), userId, now + OPENID_TOKEN_LIFETIME_MS);
    });
    return {
      access_token: token,
      token_type: 'Bearer',
      matrix_server_name: this.#ctx.config.serverName,
      expires_in: OPENID_TOKEN_LIFETIME_MS / 1000,
    };
  }

  /** `{ sub }` of a live token; 401 `M_UNKNOWN_TOKEN` for an unknown or expired one. */
  async userInfo(token: string): Promise<{ sub: string }> {
    const userId =
      token === ''
        ? undefined
        : await selectOpenIdUser(this.#ctx.db, hashToken(token), this.#ctx.now());
    if (userId === undefined) {
      throw new MatrixError(401, ErrCode.UNKNOWN_TOKEN, 'Access token unknown or expired');
    }
    return { sub: userId };
  }
}
