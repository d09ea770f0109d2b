/**
 * Other servers' verify keys: fetched from the server itself (`GET /_matrix/key/v2/server`,
 * checked with `verifyServerKeys`), stored in `server_keys` with their validity, and kept in
 * memory for the synchronous lookups `verifyEvent` makes. Spec server-server-api "Retrieving
 * server keys": a key is refetched when it is unknown or its `valid_until_ts` has passed; an old
 * key (from `old_verify_keys`) verifies only what was signed before its `expired_ts`. When the
 * server's own key endpoint cannot be reached, the configured notaries are asked (notary.ts).
 */
import { parseAnyJson } from '@weft/canonical-json';
import { isValidServerName } from '@weft/dag';
import { decodeBase64, encodeBase64, type JsonObject, verifyServerKeys } from '@weft/signing';

import { LruMap } from '../../../lru-map.ts';
import type { SqlExecutor } from '../../../storage/index.ts';
import type { ServerContext } from '../../core/context.ts';
import type { FederationClient } from '../client.ts';
import { type NotaryDeps, queryNotaries } from './notary.ts';
import { ownServerKeys } from './own-keys.ts';

/** One known key. */
export interface KnownKey {
  readonly key: Uint8Array;
  /** `valid_until_ts` of the response it came from (current keys). */
  readonly validUntilTs: number;
  /** Set for keys from `old_verify_keys`. */
  readonly expiredTs: number | undefined;
}

/** Don't ask the same server for keys more often than this (unknown or no longer valid keys). */
const REFETCH_INTERVAL_MS = 5_000;

/**
 * How many servers' keys (and last fetch times) are kept in memory. The notary endpoint lets any
 * unauthenticated caller name servers, so the per-server maps must not grow one entry per name
 * for ever; an evicted server's keys are reloaded from `server_keys` on its next lookup.
 */
export const MAX_CACHED_SERVERS = 10_000;

/**
 * Spec server-server-api "Retrieving server keys" (`valid_until_ts`): "Servers MUST use the
 * lesser of this field and 7 days into the future when determining if a key is valid".
 */
export const MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Whether `known` may verify something signed at `ts`: an old key only before its `expired_ts`,
 * a current key only up to its `valid_until_ts` (room versions 5 and later: "the key must be
 * valid at the event's origin_server_ts").
 */
function usableAt(known: KnownKey, ts: number): boolean {
  return known.expiredTs !== undefined ? known.expiredTs >= ts : known.validUntilTs >= ts;
}

/** The key cache (memory over the `server_keys` table). */
export class ServerKeyStore {
  readonly #ctx: ServerContext;
  readonly #client: FederationClient;
  /** Keys by server; an entry means the server's stored keys are loaded (see {@link #load}). */
  readonly #memory = new LruMap<string, Map<string, KnownKey>>(MAX_CACHED_SERVERS);
  readonly #lastFetch = new LruMap<string, number>(MAX_CACHED_SERVERS);
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(ctx: ServerContext, client: FederationClient) {
    this.#ctx = ctx;
    this.#client = client;
  }

  /**
   * The key `keyId` of `serverName`, fetching (at most every few seconds per server) when it is
   * unknown or (for a current key) its validity ended before `atTs` (default now). An old key
   * is returned as known (its `expiredTs` is the caller's to check). `undefined` when the server
   * does not have it, or when the current key stays invalid at `atTs` after the refetch (failed,
   * throttled, or answered with the same validity) — a stale key is never returned.
   */
  async getKey(serverName: string, keyId: string, atTs?: number): Promise<KnownKey | undefined> {
    if (serverName === this.#ctx.config.serverName) return this.#ownKey(keyId);
    await this.#load(serverName);
    const ts = atTs ?? this.#ctx.now();
    const known = this.#memory.get(serverName)?.get(keyId);
    if (known !== undefined && (known.expiredTs !== undefined || known.validUntilTs >= ts)) {
      return known;
    }
    await this.#fetch(serverName);
    const after = this.#memory.get(serverName)?.get(keyId);
    if (after === undefined) return undefined;
    return after.expiredTs !== undefined || after.validUntilTs >= ts ? after : undefined;
  }

  /** X-Matrix lookup: the current public key (bytes), or undefined. */
  async requestKey(serverName: string, keyId: string): Promise<Uint8Array | undefined> {
    const known = await this.getKey(serverName, keyId);
    // A key retired before now cannot sign a request made now.
    if (known === undefined || (known.expiredTs !== undefined && known.expiredTs < this.#ctx.now()))
      return undefined;
    return known.key;
  }

  /** Ensures every key ID of `serverName` that signed something is loaded (before a sync check). */
  async prefetch(serverName: string, keyIds: readonly string[], atTs: number): Promise<void> {
    for (const keyId of keyIds) await this.getKey(serverName, keyId, atTs);
  }

  /**
   * The synchronous `KeyLookup` of `verifyEvent` over what is in memory, given the event's
   * `origin_server_ts`: an old key only for events its server signed before it expired, a
   * current key only for events signed before its `valid_until_ts` (capped at 7 days after it
   * was fetched). Spec "Validating hashes and signatures on received events" (room versions 5
   * and later enforce the key validity period); callers prefetch with the event's timestamp
   * ({@link prefetch}), which refetches a key no longer valid then.
   */
  lookup = (serverName: string, keyId: string, originServerTs: number | undefined) => {
    if (serverName === this.#ctx.config.serverName) return this.#ownKey(keyId)?.key;
    const known = this.#memory.get(serverName)?.get(keyId);
    if (known === undefined) return undefined;
    if (originServerTs !== undefined && !usableAt(known, originServerTs)) return undefined;
    return known.key;
  };

  /** Stored key responses of `serverName` (what a notary serves). */
  async storedResponses(serverName: string): Promise<JsonObject[]> {
    if (serverName === this.#ctx.config.serverName) {
      return [ownServerKeys(this.#ctx) as unknown as JsonObject];
    }
    const rows = await this.#ctx.db.query<{ response: string }>(
      'SELECT DISTINCT response FROM server_keys WHERE server_name = $1',
      [serverName],
    );
    return rows.map((row) => parseAnyJson(row.response) as JsonObject);
  }

  /** How many servers have keys (or a known absence of keys) in memory. */
  get cachedServerCount(): number {
    return this.#memory.size;
  }

  /** Fetches `serverName`'s keys now if none are stored or they are no longer valid at `minValidTs`. */
  async refreshIfStale(serverName: string, minValidTs: number): Promise<void> {
    if (serverName === this.#ctx.config.serverName || !isValidServerName(serverName)) return;
    await this.#load(serverName);
    const keys = [...(this.#memory.get(serverName)?.values() ?? [])];
    if (!keys.some((k) => k.expiredTs === undefined && k.validUntilTs >= minValidTs)) {
      await this.#fetch(serverName);
    }
  }

  #ownKey(keyId: string): KnownKey | undefined {
    const { signingKey, config } = this.#ctx;
    if (keyId === signingKey.keyId) {
      return {
        key: signingKey.publicKey,
        validUntilTs: Number.MAX_SAFE_INTEGER,
        expiredTs: undefined,
      };
    }
    const old = config.federation.oldKeys[keyId];
    return old === undefined
      ? undefined
      : { key: decodeBase64(old.key), validUntilTs: old.expiredTs, expiredTs: old.expiredTs };
  }

  async #load(serverName: string): Promise<void> {
    if (this.#memory.has(serverName)) return;
    const rows = await this.#ctx.db.query<{
      key_id: string;
      verify_key: string;
      valid_until_ts: number;
      expired_ts: number | null;
    }>(
      'SELECT key_id, verify_key, valid_until_ts, expired_ts FROM server_keys WHERE server_name = $1',
      [serverName],
    );
    // Loaded concurrently by another caller (or stored meanwhile): keep what is there.
    const keys = this.#memory.get(serverName) ?? new Map<string, KnownKey>();
    for (const row of rows) {
      keys.set(row.key_id, {
        key: decodeBase64(row.verify_key),
        validUntilTs: Number(row.valid_until_ts),
        expiredTs: row.expired_ts === null ? undefined : Number(row.expired_ts),
      });
    }
    this.#memory.set(serverName, keys);
  }

  /**
   * One fetch per server at a time, and at most one every few seconds — for unknown and for
   * no-longer-valid keys alike (events signed with a stale key of a server that is down must
   * not cost a fetch each).
   */
  #fetch(serverName: string): Promise<void> {
    // Appendices "Server name": nothing is fetched (nor asked of a notary) for a malformed name.
    if (!isValidServerName(serverName)) return Promise.resolve();
    const running = this.#inFlight.get(serverName);
    if (running !== undefined) return running;
    const last = this.#lastFetch.get(serverName);
    if (last !== undefined && this.#ctx.now() - last < REFETCH_INTERVAL_MS) {
      return Promise.resolve();
    }
    const work = this.#fetchNow(serverName).finally(() => this.#inFlight.delete(serverName));
    this.#inFlight.set(serverName, work);
    return work;
  }

  async #fetchNow(serverName: string): Promise<void> {
    this.#lastFetch.set(serverName, this.#ctx.now());
    if (await this.#fetchDirect(serverName)) return;
    for (const response of await queryNotaries(this.#notaryDeps(), serverName)) {
      if (await this.storeResponse(serverName, response)) return;
    }
  }

  /** `GET /_matrix/key/v2/server` from the server itself; false when it cannot be reached. */
  async #fetchDirect(serverName: string): Promise<boolean> {
    let response: JsonObject;
    try {
      response = await this.#client.request<JsonObject>(
        serverName,
        'GET',
        '/_matrix/key/v2/server',
        undefined,
        { authenticated: false, retry: false, timeoutMs: 10_000 },
      );
    } catch (error) {
      this.#ctx.log.warn('server key fetch failed', {
        server: serverName,
        error: (error as Error).message,
      });
      return false;
    }
    return this.storeResponse(serverName, response);
  }

  /** The key store's side of the notary queries. */
  #notaryDeps(): NotaryDeps {
    return {
      notaries: this.#ctx.config.federation.trustedKeyServers,
      query: (notary, body) =>
        this.#client.request<JsonObject>(notary, 'POST', '/_matrix/key/v2/query', body, {
          authenticated: false,
          retry: false,
          timeoutMs: 10_000,
        }),
      // The notary's own key comes from the notary directly (never through another notary).
      notaryKey: async (notary, keyId) => {
        await this.#load(notary);
        const known = this.#memory.get(notary)?.get(keyId);
        if (
          known !== undefined &&
          known.expiredTs === undefined &&
          known.validUntilTs >= this.#ctx.now()
        )
          return known.key;
        await this.#fetchDirect(notary);
        return this.#memory.get(notary)?.get(keyId)?.key;
      },
      warn: (message, fields) => this.#ctx.log.warn(message, fields),
    };
  }

  /**
   * Verifies a key response for `serverName` (self-signed, right server name) and stores its
   * keys. Returns false (storing nothing) when it does not verify.
   */
  async storeResponse(serverName: string, response: JsonObject): Promise<boolean> {
    let keys: ReturnType<typeof verifyServerKeys>;
    try {
      keys = verifyServerKeys(response, serverName);
    } catch (error) {
      this.#ctx.log.warn('server key response rejected', {
        server: serverName,
        error: (error as Error).message,
      });
      return false;
    }
    const text = JSON.stringify(response);
    const now = this.#ctx.now();
    // "the lesser of this field and 7 days into the future" (spec keys.yaml `valid_until_ts`).
    const validUntilTs = Math.min(keys.validUntilTs, now + MAX_KEY_VALIDITY_MS);
    await this.#load(serverName);
    const memory = this.#memory.get(serverName) ?? new Map<string, KnownKey>();
    await this.#ctx.db.transaction(async (tx) => {
      for (const [keyId, key] of keys.verifyKeys) {
        await upsertKey(tx, serverName, keyId, key, validUntilTs, null, now, text);
        memory.set(keyId, { key, validUntilTs, expiredTs: undefined });
      }
      for (const [keyId, old] of keys.oldVerifyKeys) {
        await upsertKey(tx, serverName, keyId, old.key, old.expiredTs, old.expiredTs, now, text);
        memory.set(keyId, { key: old.key, validUntilTs: old.expiredTs, expiredTs: old.expiredTs });
      }
    });
    this.#memory.set(serverName, memory);
    return true;
  }
}

async function upsertKey(
  tx: SqlExecutor,
  serverName: string,
  keyId: string,
  key: Uint8Array,
  validUntilTs: number,
  expiredTs: number | null,
  now: number,
  response: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO server_keys (server_name, key_id, verify_key, valid_until_ts, expired_ts, fetched_ts, response)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (server_name, key_id) DO UPDATE SET verify_key = excluded.verify_key,
       valid_until_ts = excluded.valid_until_ts, expired_ts = excluded.expired_ts,
       fetched_ts = excluded.fetched_ts, response = excluded.response`,
    [serverName, keyId, encodeBase64(key), validUntilTs, expiredTs, now, response],
  );
}
