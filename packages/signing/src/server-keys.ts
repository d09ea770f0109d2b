/**
 * The self-signed key response of `GET /_matrix/key/v2/server`.
 *
 * Spec: server-server API "Publishing Keys"
 * (https://spec.matrix.org/v1.19/server-server-api/#publishing-keys) and the `Server Keys`
 * schema (data/api/server-server/definitions/keys.yaml): `server_name`, `verify_keys`
 * (key ID → `{ key }`), `old_verify_keys` (key ID → `{ key, expired_ts }`), `valid_until_ts`,
 * and `signatures` made with the `verify_keys`.
 */
import { decodeBase64Lenient, encodeBase64 } from './base64.ts';
import { checkString } from './bytes.ts';
import { SigningError } from './errors.ts';
import {
  checkJsonObject,
  isJsonObject,
  type JsonObject,
  own,
  readSignatures,
} from './json-object.ts';
import { decodePublicKey, decodeVerifyKey, ED25519, parseKeyId, type SigningKey } from './keys.ts';
import { signedBytes, signJson, verifyBytes } from './sign-json.ts';

/** A key the server used to sign with, and when it stopped. */
export interface OldVerifyKey {
  /** The 32-byte Ed25519 public key (bytes or unpadded Base64). */
  readonly key: Uint8Array | string;
  /** When the key expired, in milliseconds since the Unix epoch. */
  readonly expiredTs: number;
}

/** Input of {@link buildServerKeys}. */
export interface ServerKeysInput {
  /** The homeserver's server name. */
  readonly serverName: string;
  /** Current keys: published in `verify_keys`, and each signs the response. At least one. */
  readonly signingKeys: readonly SigningKey[];
  /** Keys no longer in use, by key ID. */
  readonly oldVerifyKeys?: { readonly [keyId: string]: OldVerifyKey };
  /** When other servers should refetch the keys, in milliseconds since the Unix epoch. */
  readonly validUntilTs: number;
}

/** The JSON body of `/_matrix/key/v2/server`. */
export interface ServerKeysResponse {
  readonly server_name: string;
  readonly verify_keys: { readonly [keyId: string]: { readonly key: string } };
  readonly old_verify_keys: {
    readonly [keyId: string]: { readonly key: string; readonly expired_ts: number };
  };
  readonly valid_until_ts: number;
  readonly signatures: { readonly [entity: string]: { readonly [keyId: string]: string } };
}

/** A verified key response, decoded. */
export interface ServerKeys {
  readonly serverName: string;
  /** Current keys, by key ID (32-byte public keys). */
  readonly verifyKeys: ReadonlyMap<string, Uint8Array>;
  /** Old keys, by key ID. */
  readonly oldVerifyKeys: ReadonlyMap<
    string,
    { readonly key: Uint8Array; readonly expiredTs: number }
  >;
  /**
   * `valid_until_ts` as published. The spec requires using "the lesser of this field and 7 days
   * into the future" when deciding whether a key is valid; that clock decision is the caller's.
   */
  readonly validUntilTs: number;
}

function checkTimestamp(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SigningError('bad-json', 'timestamp must be a non-negative integer', { path });
  }
  return value;
}

function checkEd25519KeyId(keyId: string, path: string): void {
  const { algorithm, version } = parseKeyId(keyId);
  if (algorithm !== ED25519 || !/^[A-Za-z0-9_]+$/.test(version)) {
    throw new SigningError('bad-key', 'key ID must be ed25519:[a-zA-Z0-9_]+', { path, keyId });
  }
}

/**
 * Builds the `/_matrix/key/v2/server` response for `serverName`, signed by every key in
 * `signingKeys` (spec: "Digital signatures for this object signed using the verify_keys").
 */
export function buildServerKeys(input: ServerKeysInput): ServerKeysResponse {
  checkString(input.serverName, 'serverName');
  if (!Array.isArray(input.signingKeys) || input.signingKeys.length === 0) {
    throw new TypeError('signingKeys must be a non-empty array of SigningKey');
  }
  checkTimestamp(input.validUntilTs, '$.valid_until_ts');
  const verifyKeys: Record<string, { key: string }> = {};
  for (const key of input.signingKeys) verifyKeys[key.keyId] = { key: key.publicKeyBase64 };
  const oldVerifyKeys: Record<string, { key: string; expired_ts: number }> = {};
  for (const [keyId, old] of Object.entries(input.oldVerifyKeys ?? {})) {
    const path = `$.old_verify_keys[${JSON.stringify(keyId)}]`;
    checkEd25519KeyId(keyId, path);
    oldVerifyKeys[keyId] = {
      key: encodeBase64(decodePublicKey(old.key, `${path}.key`)),
      expired_ts: checkTimestamp(old.expiredTs, `${path}.expired_ts`),
    };
  }
  let response: JsonObject = {
    server_name: input.serverName,
    verify_keys: verifyKeys,
    old_verify_keys: oldVerifyKeys,
    valid_until_ts: input.validUntilTs,
  };
  for (const key of input.signingKeys)
    response = signJson(response, input.serverName, key.keyId, key);
  return response as unknown as ServerKeysResponse;
}

/**
 * Checks and decodes a `/_matrix/key/v2/server` response. Throws `SigningError`:
 * - `bad-json` / `bad-key` / `bad-base64` when a field has the wrong shape;
 * - `bad-event` when `server_name` is not `expectedServerName` (when given);
 * - `missing-signature` when no key of `verify_keys` signed it;
 * - `bad-signature` when any signature by a key of `verify_keys` does not verify.
 * Signatures by keys not in `verify_keys` (e.g. a notary's) are ignored here.
 */
export function verifyServerKeys(response: JsonObject, expectedServerName?: string): ServerKeys {
  checkJsonObject(response, 'response');
  const serverName = own(response, 'server_name');
  if (typeof serverName !== 'string') {
    throw new SigningError('bad-json', 'server_name must be a string', { path: '$.server_name' });
  }
  if (expectedServerName !== undefined && serverName !== expectedServerName) {
    throw new SigningError('bad-event', 'server_name is not the server that was asked', {
      path: '$.server_name',
      entity: serverName,
    });
  }
  const validUntilTs = checkTimestamp(own(response, 'valid_until_ts'), '$.valid_until_ts');

  const verifyKeys = new Map<string, Uint8Array>();
  const rawVerify = own(response, 'verify_keys');
  if (!isJsonObject(rawVerify)) {
    throw new SigningError('bad-json', 'verify_keys must be an object', { path: '$.verify_keys' });
  }
  for (const keyId of Object.keys(rawVerify)) {
    const path = `$.verify_keys[${JSON.stringify(keyId)}]`;
    checkEd25519KeyId(keyId, path);
    const entry = rawVerify[keyId];
    const key = isJsonObject(entry) ? own(entry, 'key') : undefined;
    if (typeof key !== 'string')
      throw new SigningError('bad-json', 'key must be a string', { path });
    verifyKeys.set(keyId, decodeVerifyKey(key, `${path}.key`));
  }

  const oldVerifyKeys = new Map<string, { key: Uint8Array; expiredTs: number }>();
  const rawOld = own(response, 'old_verify_keys');
  if (rawOld !== undefined) {
    if (!isJsonObject(rawOld)) {
      throw new SigningError('bad-json', 'old_verify_keys must be an object', {
        path: '$.old_verify_keys',
      });
    }
    for (const keyId of Object.keys(rawOld)) {
      const path = `$.old_verify_keys[${JSON.stringify(keyId)}]`;
      checkEd25519KeyId(keyId, path);
      const entry = rawOld[keyId];
      const key = isJsonObject(entry) ? own(entry, 'key') : undefined;
      if (!isJsonObject(entry) || typeof key !== 'string') {
        throw new SigningError('bad-json', 'old key must be { key, expired_ts }', { path });
      }
      oldVerifyKeys.set(keyId, {
        key: decodeVerifyKey(key, `${path}.key`),
        expiredTs: checkTimestamp(own(entry, 'expired_ts'), `${path}.expired_ts`),
      });
    }
  }

  const mine = readSignatures(response)[serverName] ?? {};
  const message = signedBytes(response);
  let verified = 0;
  for (const keyId of Object.keys(mine)) {
    const key = verifyKeys.get(keyId);
    if (key === undefined) continue;
    let signature: Uint8Array;
    try {
      signature = decodeBase64Lenient(mine[keyId] as string);
    } catch (cause) {
      throw new SigningError('bad-signature', 'signature is not valid base64', {
        keyId,
        entity: serverName,
        cause,
      });
    }
    if (!verifyBytes(signature, message, key)) {
      throw new SigningError('bad-signature', 'server key response signature does not verify', {
        keyId,
        entity: serverName,
      });
    }
    verified += 1;
  }
  if (verified === 0) {
    throw new SigningError(
      'missing-signature',
      'server key response is not signed by any of its verify_keys',
      {
        entity: serverName,
      },
    );
  }
  return { serverName, verifyKeys, oldVerifyKeys, validUntilTs };
}
