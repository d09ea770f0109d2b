/**
 * End-to-end encryption keys (client-server-api "End-to-End Encryption", "Key management API"):
 * devices publish signed identity keys, one-time keys and fallback keys (`/keys/upload`); other
 * users download identity keys (`/keys/query`) and claim one-time keys — a fallback key once the
 * one-time keys run out — to start Olm sessions (`/keys/claim`).
 *
 * Uploading new identity keys, and removing a device that had some, is a device-list change
 * (services/device-lists) that the device's user's room-mates see in `/sync`.
 */
import { encodeCanonicalJson, parseAnyJson } from '@weft/canonical-json';
import { decodePublicKey, type JsonObject, verifyJson } from '@weft/signing';
import { MatrixError } from '@weft/transport';
import { isObject } from '../../json-object.ts';
import { NestedLruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { AccountService } from '../accounts/service.ts';
import type { ServerContext } from '../core/context.ts';
import type { DeviceListService } from '../device-lists/service.ts';
import { type CrossSigningKeysAnswer, CrossSigningService } from './cross-signing.ts';
import { deleteDeviceSignatures, signaturesOn } from './cross-signing-store.ts';
import {
  deleteClaimedOneTimeKey,
  deleteClaimedOneTimeKeys,
  deleteDeviceKeys,
  deviceEntry,
  deviceKeysJson,
  deviceKeysOfUser,
  fallbackKey,
  insertOneTimeKey,
  markFallbackKeyUsed,
  oneTimeKeyCounts,
  putDeviceKeys,
  putFallbackKey,
  storedOneTimeKey,
  takeOneTimeKey,
  unusedFallbackAlgorithms,
} from './store.ts';

/** What a device uploads (already checked to be JSON objects by the endpoint). */
export interface KeyUpload {
  readonly deviceKeys?: JsonObject;
  /** `<algorithm>:<key_id>` → key (a string or a signed key object). */
  readonly oneTimeKeys?: Readonly<Record<string, unknown>>;
  readonly fallbackKeys?: Readonly<Record<string, unknown>>;
}

/** user ID → device ID → key (the shape of `/keys/query` and `/keys/claim` answers). */
export type KeysByDevice = Record<string, Record<string, unknown>>;

/** The algorithm every Olm client uses; its count is always reported, even at zero. */
const SIGNED_CURVE25519 = 'signed_curve25519';

function splitKeyName(name: string): { algorithm: string; keyId: string } {
  const colon = name.indexOf(':');
  if (colon <= 0 || colon === name.length - 1) {
    throw MatrixError.invalidParam(`key name ${JSON.stringify(name)} is not <algorithm>:<key_id>`);
  }
  return { algorithm: name.slice(0, colon), keyId: name.slice(colon + 1) };
}

function checkKeyValue(name: string, value: unknown): void {
  const ok = typeof value === 'string' || isObject(value);
  if (!ok) throw MatrixError.badJson(`key ${name} must be a string or an object`);
}

/**
 * What `/sync` reports about a device's own keys, as the answer's two fields: the same frozen
 * objects for every answer until the keys change (an answer is serialized, never modified).
 */
export interface SyncKeyCounts {
  /** `device_one_time_keys_count` (with `signed_curve25519` always present). */
  readonly oneTimeKeys: Readonly<Record<string, number>>;
  /** `device_unused_fallback_key_types`. */
  readonly unusedFallbackTypes: readonly string[];
}

/** Device, one-time and fallback keys: upload, query, claim, and the counts `/sync` reports. */
export class E2eKeyService {
  readonly #ctx: ServerContext;
  readonly #deviceLists: DeviceListService;
  /** Cross-signing keys and signatures (cross-signing.ts). */
  readonly crossSigning: CrossSigningService;
  /**
   * Per-device counts for `/sync` (asked on every sync, changed only by uploads, claims and
   * device removal). `#generation` moves on every change, so a read that raced a change is not
   * cached. Keyed by user, then device (as the push service's unread cache), at most 10,000
   * devices.
   */
  readonly #counts = new NestedLruMap<string, string, SyncKeyCounts>(10_000);
  #generation = 0;

  constructor(ctx: ServerContext, accounts: AccountService, deviceLists: DeviceListService) {
    this.#ctx = ctx;
    this.#deviceLists = deviceLists;
    this.crossSigning = new CrossSigningService(ctx, deviceLists);
    // A new device, and a removed one, changes the user's device list: room-mates re-query.
    // A removed device's keys go with it, so they are never handed out again.
    accounts.onDeviceChange(async (tx, change) => {
      if (change.change === 'removed') {
        await deleteDeviceKeys(tx, change.userId, change.deviceId);
        // Now, so a read started from here is not kept, and again once committed: a read on
        // another connection before the COMMIT would have seen the old rows (as
        // `EventStore.evictOnCommit`).
        this.#forget(change.userId, change.deviceId);
        tx.afterCommit(() => this.#forget(change.userId, change.deviceId));
      }
      // Announced by `markChanged` in the transaction's after-commit hook.
      await this.#deviceLists.markChanged(tx, change.userId, {
        deviceId: change.deviceId,
        deleted: change.change === 'removed',
      });
    });
  }

  /**
   * `POST /keys/upload`: stores the device's keys in one transaction and returns the unclaimed
   * one-time key counts.
   */
  async upload(
    userId: string,
    deviceId: string,
    upload: KeyUpload,
  ): Promise<Record<string, number>> {
    const deviceKeys = upload.deviceKeys;
    const deviceKeysText =
      deviceKeys === undefined ? undefined : checkDeviceKeys(userId, deviceId, deviceKeys);
    const counts = await this.#ctx.db.transaction(async (tx) => {
      if (deviceKeysText !== undefined) {
        const previous = await deviceKeysJson(tx, userId, deviceId);
        if (previous !== deviceKeysText) {
          // Other identity keys: the cross-signing signatures on (and by) the old ones go.
          if (previous === undefined || signedPart(previous) !== signedPart(deviceKeysText)) {
            await deleteDeviceSignatures(tx, userId, deviceId);
            // A new crypto account: the old one's claimed key IDs say nothing about the new's.
            if (previous !== undefined) await deleteClaimedOneTimeKeys(tx, userId, deviceId);
          }
          await putDeviceKeys(tx, userId, deviceId, deviceKeysText);
          // Announced by `markChanged` in the transaction's after-commit hook.
          await this.#deviceLists.markChanged(tx, userId, { deviceId });
        }
      }
      for (const [name, value] of Object.entries(upload.oneTimeKeys ?? {})) {
        checkKeyValue(name, value);
        const { algorithm, keyId } = splitKeyName(name);
        const json = encodeCanonicalJson(value);
        const existing = await storedOneTimeKey(tx, userId, deviceId, algorithm, keyId);
        if (existing === undefined) {
          await insertOneTimeKey(tx, userId, deviceId, algorithm, keyId, json);
        } else if (existing.key_json === json) {
          // The same key again (a retried upload), claimed or not: skipped.
        } else if (existing.claimed) {
          // A claimed key's ID reused for another key: a client with a fresh crypto store
          // (libolm/vodozemac number key IDs from a counter) under the same device ID. The
          // claimed key was given out already; the new one replaces it, unclaimed.
          await deleteClaimedOneTimeKey(tx, userId, deviceId, algorithm, keyId);
          await insertOneTimeKey(tx, userId, deviceId, algorithm, keyId, json);
        } else {
          // Reusing an unclaimed key's ID for a different key would hand out either.
          throw MatrixError.invalidParam(`one-time key ${name} already exists with other content`);
        }
      }
      const seen = new Set<string>();
      for (const [name, value] of Object.entries(upload.fallbackKeys ?? {})) {
        checkKeyValue(name, value);
        const { algorithm, keyId } = splitKeyName(name);
        // Spec: "There can only be at most one key per algorithm uploaded".
        if (seen.has(algorithm)) {
          throw MatrixError.invalidParam(`more than one fallback key for ${algorithm}`);
        }
        seen.add(algorithm);
        const json = encodeCanonicalJson(value);
        const existing = await fallbackKey(tx, userId, deviceId, algorithm);
        // Re-uploading the same key keeps its "used" mark; a new key replaces it unused.
        if (existing?.key_id !== keyId || existing.key_json !== json) {
          await putFallbackKey(tx, userId, deviceId, algorithm, keyId, json);
        }
      }
      return oneTimeKeyCounts(tx, userId, deviceId);
    });
    this.#forget(userId, deviceId);
    return { [SIGNED_CURVE25519]: 0, ...counts };
  }

  /**
   * `device_one_time_keys_count` and `device_unused_fallback_key_types` of `/sync`: from memory
   * without a promise when known (every long-poll answer asks; a fresh object and promise per
   * answer were ≈ 4% of what a woken sync allocated), else read.
   */
  syncKeyCounts(userId: string, deviceId: string): SyncKeyCounts | Promise<SyncKeyCounts> {
    return this.#counts.get(userId, deviceId) ?? this.#readKeyCounts(userId, deviceId);
  }

  async #readKeyCounts(userId: string, deviceId: string): Promise<SyncKeyCounts> {
    const generation = this.#generation;
    const counts: SyncKeyCounts = {
      oneTimeKeys: Object.freeze({
        [SIGNED_CURVE25519]: 0,
        ...(await oneTimeKeyCounts(this.#ctx.db, userId, deviceId)),
      }),
      unusedFallbackTypes: Object.freeze(
        await unusedFallbackAlgorithms(this.#ctx.db, userId, deviceId),
      ),
    };
    if (generation === this.#generation) this.#counts.set(userId, deviceId, counts);
    return counts;
  }

  #forget(userId: string, deviceId: string): void {
    this.#generation += 1;
    this.#counts.delete(userId, deviceId);
  }

  /**
   * `POST /keys/query`: the identity keys of the requested users' devices (all of them for an
   * empty list), each with `unsigned.device_display_name`, and their cross-signing keys with
   * the signatures `requester` may see merged in (`undefined`: another server asks). Users of
   * other servers go in `failures` (the caller asks their servers).
   */
  async query(
    requested: ReadonlyMap<string, readonly string[]>,
    requester?: string,
  ): Promise<
    { deviceKeys: KeysByDevice; failures: Record<string, object> } & CrossSigningKeysAnswer
  > {
    const deviceKeys: KeysByDevice = {};
    const failures: Record<string, object> = {};
    for (const [userId, deviceIds] of requested) {
      const server = serverOf(userId);
      if (server !== this.#ctx.config.serverName) {
        failures[server] = {};
        continue;
      }
      const wanted = deviceIds.length === 0 ? undefined : new Set(deviceIds);
      const devices: Record<string, unknown> = {};
      for (const row of await deviceKeysOfUser(this.#ctx.db, userId)) {
        if (wanted !== undefined && !wanted.has(row.device_id)) continue;
        const keys = parseAnyJson(row.key_json) as Record<string, unknown>;
        keys['unsigned'] =
          row.display_name === null ? {} : { device_display_name: row.display_name };
        devices[row.device_id] = keys;
      }
      deviceKeys[userId] = devices;
    }
    const local = Object.keys(deviceKeys);
    const crossSigning = await this.crossSigning.queryKeys(local, requester, deviceKeys);
    return { deviceKeys, failures, ...crossSigning };
  }

  /**
   * `POST /keys/claim`: for each requested device, its oldest unclaimed one-time key of the
   * algorithm, else its fallback key (which stays, marked used). Devices without either are
   * left out, as the spec says.
   */
  async claim(
    requested: ReadonlyMap<string, ReadonlyMap<string, string>>,
  ): Promise<{ oneTimeKeys: KeysByDevice; failures: Record<string, object> }> {
    const oneTimeKeys: KeysByDevice = {};
    const failures: Record<string, object> = {};
    const claimedFrom: [string, string][] = [];
    await this.#ctx.db.transaction(async (tx) => {
      for (const [userId, devices] of requested) {
        const server = serverOf(userId);
        if (server !== this.#ctx.config.serverName) {
          failures[server] = {};
          continue;
        }
        for (const [deviceId, algorithm] of devices) {
          const claimed = await claimOne(tx, userId, deviceId, algorithm);
          claimedFrom.push([userId, deviceId]);
          if (claimed === undefined) continue;
          const forUser = oneTimeKeys[userId] ?? {};
          oneTimeKeys[userId] = forUser;
          forUser[deviceId] = {
            [`${algorithm}:${claimed.key_id}`]: parseAnyJson(claimed.key_json),
          };
        }
      }
    });
    for (const [userId, deviceId] of claimedFrom) this.#forget(userId, deviceId);
    return { oneTimeKeys, failures };
  }
}

async function claimOne(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
): Promise<{ key_id: string; key_json: string } | undefined> {
  const oneTime = await takeOneTimeKey(tx, userId, deviceId, algorithm);
  if (oneTime !== undefined) return oneTime;
  const fallback = await fallbackKey(tx, userId, deviceId, algorithm);
  if (fallback === undefined) return undefined;
  await markFallbackKeyUsed(tx, userId, deviceId, algorithm);
  return fallback;
}

/**
 * A device as another server learns of it in `m.device_list_update` (read in `tx`, so a change
 * in that transaction is seen): its identity keys with the signatures its user made on them
 * merged in, and its display name.
 */
export async function publishedDevice(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<{ keys?: Record<string, unknown>; displayName?: string }> {
  const row = await deviceEntry(tx, userId, deviceId);
  const out: { keys?: Record<string, unknown>; displayName?: string } = {};
  if (row?.display_name != null) out.displayName = row.display_name;
  if (row?.key_json == null) return out;
  let keys = parseAnyJson(row.key_json) as Record<string, unknown>;
  for (const sig of await signaturesOn(tx, userId)) {
    if (sig.target_key_id !== deviceId || sig.signer_user_id !== userId) continue;
    const signatures = isObject(keys['signatures']) ? keys['signatures'] : {};
    const own = isObject(signatures[userId]) ? signatures[userId] : {};
    keys = {
      ...keys,
      signatures: { ...signatures, [userId]: { ...own, [sig.signer_key_id]: sig.signature } },
    };
  }
  out.keys = keys;
  return out;
}

/** Stored device keys without `signatures`: what a signature covers, canonical. */
function signedPart(json: string): string {
  const { signatures: _signatures, ...rest } = parseAnyJson(json) as JsonObject;
  return encodeCanonicalJson(rest);
}

/** The server name of a user ID (everything after the first colon). */
export function serverOf(userId: string): string {
  const colon = userId.indexOf(':');
  return colon < 0 ? '' : userId.slice(colon + 1);
}

/**
 * Spec "Device keys": the object must name the uploading user and device, carry the device's
 * Ed25519 key under `ed25519:<device_id>`, and be signed by that key. Returns the JSON to store
 * (without `unsigned`, which is server-added data not covered by the signature).
 */
function checkDeviceKeys(userId: string, deviceId: string, keys: JsonObject): string {
  if (keys['user_id'] !== userId || keys['device_id'] !== deviceId) {
    throw MatrixError.invalidParam('device_keys must have your user_id and device_id');
  }
  const algorithms = keys['algorithms'];
  if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === 'string')) {
    throw MatrixError.badJson('device_keys.algorithms must be a list of strings');
  }
  const keyMap = keys['keys'];
  if (!isObject(keyMap)) {
    throw MatrixError.badJson('device_keys.keys must be an object');
  }
  const keyId = `ed25519:${deviceId}`;
  const ed25519 = (keyMap as Record<string, unknown>)[keyId];
  if (typeof ed25519 !== 'string') {
    throw MatrixError.invalidParam(`device_keys.keys must contain ${keyId}`);
  }
  let publicKey: Uint8Array;
  try {
    publicKey = decodePublicKey(ed25519);
  } catch {
    throw MatrixError.invalidParam(`device_keys.keys.${keyId} is not an Ed25519 public key`);
  }
  const { unsigned: _unsigned, ...signed } = keys;
  let valid = false;
  try {
    valid = verifyJson(signed, userId, keyId, publicKey).valid;
  } catch {
    valid = false;
  }
  if (!valid) throw MatrixError.invalidParam('device_keys signature does not verify');
  // Canonical, so a re-upload of the same keys is recognised as no change.
  return encodeCanonicalJson(signed);
}
