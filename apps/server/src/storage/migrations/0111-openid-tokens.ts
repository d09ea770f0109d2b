import type { Migration } from '../migrate.ts';

/**
 * OpenID tokens (services/openid, client-server-api "OpenID",
 * https://spec.matrix.org/v1.19/client-server-api/#openid): one row per token handed out by
 * `POST /user/{userId}/openid/request_token`, stored only as its SHA-256 (as access tokens), with
 * its user and when it stops being accepted by `GET /_matrix/federation/v1/openid/userinfo`.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE openid_tokens (
      token_hash TEXT NOT NULL PRIMARY KEY,
      user_id TEXT NOT NULL,
      expires_ts BIGINT NOT NULL
    )`,
    'CREATE INDEX openid_tokens_by_expiry ON openid_tokens (expires_ts)',
  ],
};
