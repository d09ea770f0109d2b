/**
 * Cross-signing (client-server-api "Cross-signing",
 * https://spec.matrix.org/v1.19/client-server-api/#cross-signing): a user's master key signs
 * their self-signing key (which signs their devices) and their user-signing key (which signs
 * other users' master keys). Keys arrive through `/keys/device_signing/upload`, signatures through
 * `/keys/signatures/upload`; both are checked here with @weft/signing before they are stored, and
 * `/keys/query` returns the keys with every signature merged in.
 *
 * Visibility follows the spec: anyone sees master and self-signing keys and the signatures a user
 * made on their own keys; the user-signing key, and signatures it made on other users' master
 * keys, are shown only to their owner.
 */
import { encodeCanonicalJson, parseAnyJson } from '@weft/canonical-json';
import { decodePublicKey, type JsonObject, verifyJson } from '@weft/signing';
import { MatrixError } from '@weft/transport';
import { isObject } from '../../json-object.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import type { DeviceListService } from '../device-lists/service.ts';
import {
  type CrossSigningKeyType,
  crossSigningKeysOf,
  putCrossSigningKey,
  putSignature,
  type SignatureRow,
  signaturesOn,
} from './cross-signing-store.ts';
import { deviceKeysJson } from './store.ts';

/** A `/keys/device_signing/upload` body (each key already checked to be an object). */
export type SigningKeyUpload = Partial<Record<CrossSigningKeyType, JsonObject>>;

/** `failures` of `/keys/signatures/upload`: user → key ID → error. */
export type SignatureFailures = Record<string, Record<string, { errcode: string; error: string }>>;

/** What `/keys/query` adds for cross-signing. */
export interface CrossSigningKeysAnswer {
  readonly masterKeys: Record<string, Record<string, unknown>>;
  readonly selfSigningKeys: Record<string, Record<string, unknown>>;
  readonly userSigningKeys: Record<string, Record<string, unknown>>;
}

type Json = Record<string, unknown>;

/**
 * Spec "CrossSigningKey": `user_id` is the owner, `usage` names the key type, `keys` holds
 * exactly one `ed25519:<public key>` whose value is that public key. Returns the public key.
 */
function checkKeyShape(userId: string, keyType: CrossSigningKeyType, key: Json): string {
  if (key['user_id'] !== userId) {
    throw MatrixError.invalidParam(`${keyType} key must have your user_id`);
  }
  const usage = key['usage'];
  if (!Array.isArray(usage) || !usage.includes(keyType)) {
    throw MatrixError.invalidParam(`${keyType} key must list "${keyType}" in usage`);
  }
  const keys = key['keys'];
  const entries = isObject(keys) ? Object.entries(keys) : [];
  const [entry] = entries;
  if (entries.length !== 1 || entry === undefined) {
    throw MatrixError.invalidParam(`${keyType} key must hold exactly one key`);
  }
  const [keyId, publicKey] = entry;
  if (typeof publicKey !== 'string' || keyId !== `ed25519:${publicKey}`) {
    throw MatrixError.invalidParam(`${keyType} key ID must be ed25519:<the public key>`);
  }
  try {
    decodePublicKey(publicKey);
  } catch {
    throw MatrixError.invalidParam(`${keyType} key is not an Ed25519 public key`);
  }
  return publicKey;
}

/** The public key of a stored cross-signing key. */
function publicKeyOf(key: Json | undefined): string | undefined {
  const keys = key?.['keys'];
  if (!isObject(keys)) return undefined;
  const value = Object.values(keys)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Whether `object` carries a valid signature of `signer` by the Ed25519 key `publicKey`. */
function signedBy(object: Json, signer: string, publicKey: string): boolean {
  const { unsigned: _unsigned, ...signed } = object;
  try {
    return verifyJson(
      signed as JsonObject,
      signer,
      `ed25519:${publicKey}`,
      decodePublicKey(publicKey),
    ).valid;
  } catch {
    return false;
  }
}

/** `object` without `signatures` and `unsigned`, canonical: what signatures cover. */
function signedContent(object: Json): string {
  const { signatures: _s, unsigned: _u, ...rest } = object;
  return encodeCanonicalJson(rest as JsonObject);
}

/** Whether `upload` holds a key that is not exactly the stored key of its type. */
function hasNewKeys(
  upload: SigningKeyUpload,
  stored: ReadonlyMap<CrossSigningKeyType, Json>,
): boolean {
  return (['master', 'self_signing', 'user_signing'] as const).some((keyType) => {
    const key = upload[keyType];
    if (key === undefined) return false;
    const previous = stored.get(keyType);
    return (
      previous === undefined ||
      encodeCanonicalJson(previous as JsonObject) !== encodeCanonicalJson(key)
    );
  });
}

/** Adds a signature to an object's `signatures` (a copy). */
function withSignature(object: Json, signer: string, keyId: string, signature: string): Json {
  const signatures = isObject(object['signatures']) ? object['signatures'] : {};
  const bySigner = isObject(signatures[signer]) ? signatures[signer] : {};
  return {
    ...object,
    signatures: { ...signatures, [signer]: { ...bySigner, [keyId]: signature } },
  };
}

/** Called inside the upload's transaction with the new public keys (master, self-signing). */
export type SigningKeyListener = (
  tx: SqlExecutor,
  userId: string,
  keys: Partial<Record<'master' | 'self_signing', JsonObject>>,
) => Promise<void>;

export class CrossSigningService {
  readonly #ctx: ServerContext;
  readonly #deviceLists: DeviceListService;
  readonly #listeners: SigningKeyListener[] = [];

  constructor(ctx: ServerContext, deviceLists: DeviceListService) {
    this.#ctx = ctx;
    this.#deviceLists = deviceLists;
  }

  /**
   * Subscribes to changes of a user's master or self-signing key (federation sends them to other
   * servers as `m.signing_key_update` EDUs).
   */
  onSigningKeysChanged(listener: SigningKeyListener): void {
    this.#listeners.push(listener);
  }

  /**
   * `POST /keys/device_signing/upload`: checks and stores the given keys. The self-signing and
   * user-signing keys must be signed by the master key (the one uploaded with them, else the
   * stored one). Any change is a device-list change of the user.
   *
   * Unless `authenticated` (the user passed user-interactive auth), stores nothing and returns
   * `'needs-auth'` when the user already has a master key and the upload holds a key that differs
   * from the stored one (spec: UIA is not needed for the first master key, nor for a request with
   * no new keys, so a retry is idempotent). Decided in the write transaction, so of two
   * concurrent first uploads only one goes through without auth.
   */
  async uploadSigningKeys(
    userId: string,
    upload: SigningKeyUpload,
    authenticated: boolean,
  ): Promise<'done' | 'needs-auth'> {
    return this.#ctx.db.transaction(async (tx) => {
      const stored = await crossSigningKeysOf(tx, userId);
      if (!authenticated && stored.has('master') && hasNewKeys(upload, stored)) {
        return 'needs-auth';
      }
      const master = upload.master ?? stored.get('master');
      if (upload.master !== undefined) checkKeyShape(userId, 'master', upload.master);
      for (const keyType of ['self_signing', 'user_signing'] as const) {
        const key = upload[keyType];
        if (key === undefined) continue;
        checkKeyShape(userId, keyType, key);
        const masterKey = publicKeyOf(master);
        if (masterKey === undefined) {
          throw MatrixError.invalidParam(`${keyType} key needs a master key`);
        }
        if (!signedBy(key, userId, masterKey)) {
          throw new MatrixError(
            400,
            'M_INVALID_SIGNATURE',
            `${keyType} key is not signed by the master key`,
          );
        }
      }
      let changed = false;
      const published: Partial<Record<'master' | 'self_signing', JsonObject>> = {};
      for (const keyType of ['master', 'self_signing', 'user_signing'] as const) {
        const key = upload[keyType];
        if (key === undefined) continue;
        const json = encodeCanonicalJson(key);
        const previous = stored.get(keyType);
        if (previous !== undefined && encodeCanonicalJson(previous as JsonObject) === json)
          continue;
        await putCrossSigningKey(tx, userId, keyType, json);
        changed = true;
        if (keyType !== 'user_signing') published[keyType] = key;
      }
      // Announced by `markChanged` in the transaction's after-commit hook.
      if (changed) await this.#deviceLists.markChanged(tx, userId);
      if (Object.keys(published).length > 0) {
        for (const listener of this.#listeners) await listener(tx, userId, published);
      }
      return 'done';
    });
  }

  /**
   * `POST /keys/signatures/upload` by `signer`: each object is a device key or master key of the
   * signer (signed by their self-signing key, or for the master key by one of their devices), or
   * another user's master key (signed by the signer's user-signing key). Valid signatures are
   * stored; the rest are reported per key.
   */
  async uploadSignatures(
    signer: string,
    body: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  ): Promise<SignatureFailures> {
    const failures: SignatureFailures = {};
    const fail = (userId: string, keyId: string, errcode: string, error: string) => {
      failures[userId] = { ...failures[userId], [keyId]: { errcode, error } };
    };
    const changedUsers = new Set<string>();
    /** The signer's own keys that got signatures: device IDs, or the master key's public key. */
    const changedOwnKeys = new Set<string>();
    await this.#ctx.db.transaction(async (tx) => {
      const own = await crossSigningKeysOf(tx, signer);
      for (const [userId, byKey] of Object.entries(body)) {
        for (const [keyId, object] of Object.entries(byKey)) {
          if (!isObject(object) || object['user_id'] !== userId) {
            fail(userId, keyId, 'M_INVALID_PARAM', 'The signed object must name its user_id');
            continue;
          }
          const rows =
            userId === signer
              ? await this.#ownKeySignatures(tx, signer, own, keyId, object)
              : userSigningSignatures(signer, own, userId, keyId, object);
          if (typeof rows === 'string') {
            fail(userId, keyId, 'M_INVALID_SIGNATURE', rows);
            continue;
          }
          for (const row of rows) await putSignature(tx, row);
          // Signatures on one's own keys are public: a change of that user's keys. Signatures on
          // others' master keys only the signer sees: a change the signer's devices learn of.
          if (userId === signer) changedOwnKeys.add(keyId);
          else changedUsers.add(signer);
        }
      }
      // Each announced by `markChanged` in the transaction's after-commit hook. A signed device
      // is a change of that device (other servers learn of it); a signed master key goes to them
      // as a new master key (spec server-server-api "Cross-signing"), as Synapse does.
      const masterKey = publicKeyOf(own.get('master'));
      for (const keyId of changedOwnKeys) {
        if (keyId === masterKey) {
          await this.#deviceLists.markChanged(tx, signer);
          const master = own.get('master');
          const merged = (await signaturesOn(tx, signer))
            .filter((sig) => sig.target_key_id === keyId && sig.signer_user_id === signer)
            .reduce(
              (out, sig) =>
                withSignature(out, sig.signer_user_id, sig.signer_key_id, sig.signature),
              master ?? {},
            );
          for (const listener of this.#listeners) {
            await listener(tx, signer, { master: merged as JsonObject });
          }
        } else {
          await this.#deviceLists.markChanged(tx, signer, { deviceId: keyId });
        }
      }
      if (changedOwnKeys.size === 0) {
        for (const userId of changedUsers) await this.#deviceLists.markChanged(tx, userId);
      }
    });
    return failures;
  }

  /** Signatures on the signer's own device key or master key; an error text when invalid. */
  async #ownKeySignatures(
    tx: SqlExecutor,
    signer: string,
    own: ReadonlyMap<CrossSigningKeyType, Json>,
    keyId: string,
    object: Json,
  ): Promise<SignatureRow[] | string> {
    const masterKey = publicKeyOf(own.get('master'));
    if (keyId === masterKey) {
      // The master key signed by the user's devices (spec: devices sign the master key).
      if (signedContent(object) !== signedContent(own.get('master') ?? {})) {
        return 'The object is not your stored master key';
      }
      const signatures = isObject(object['signatures']) ? object['signatures'][signer] : undefined;
      const rows: SignatureRow[] = [];
      for (const [signerKeyId, signature] of Object.entries(
        isObject(signatures) ? signatures : {},
      )) {
        const deviceId = signerKeyId.startsWith('ed25519:') ? signerKeyId.slice(8) : undefined;
        if (deviceId === undefined || typeof signature !== 'string') continue;
        const deviceJson = await deviceKeysJson(tx, signer, deviceId);
        if (deviceJson === undefined) continue;
        const deviceKey = (parseAnyJson(deviceJson) as { keys?: Json }).keys?.[signerKeyId];
        if (typeof deviceKey !== 'string') continue;
        if (!verifies(object, signer, signerKeyId, deviceKey)) continue;
        rows.push(row(signer, signerKeyId, signer, keyId, signature));
      }
      return rows.length > 0 ? rows : 'No valid device signature on the master key';
    }
    const deviceJson = await deviceKeysJson(tx, signer, keyId);
    if (deviceJson === undefined) return 'Unknown device or key';
    if (signedContent(object) !== signedContent(parseAnyJson(deviceJson) as Json)) {
      return 'The object is not the stored device key';
    }
    const selfSigning = publicKeyOf(own.get('self_signing'));
    if (selfSigning === undefined) return 'You have no self-signing key';
    return (
      signatureRow(object, signer, selfSigning, signer, keyId) ??
      'Not signed by your self-signing key'
    );
  }

  /**
   * What `/keys/query` returns for cross-signing about `userIds` (local users), as seen by
   * `requester` (`undefined` for another server), with each device key's signatures merged into
   * `deviceKeys` in place.
   */
  async queryKeys(
    userIds: readonly string[],
    requester: string | undefined,
    deviceKeys: Record<string, Record<string, unknown>>,
  ): Promise<CrossSigningKeysAnswer> {
    const answer: CrossSigningKeysAnswer = {
      masterKeys: {},
      selfSigningKeys: {},
      userSigningKeys: {},
    };
    const db = this.#ctx.db;
    for (const userId of userIds) {
      const keys = await crossSigningKeysOf(db, userId);
      const signatures = await signaturesOn(db, userId);
      const visible = signatures.filter(
        (sig) => sig.signer_user_id === userId || sig.signer_user_id === requester,
      );
      const merge = (object: Json, targetKeyId: string): Json =>
        visible
          .filter((sig) => sig.target_key_id === targetKeyId)
          .reduce(
            (out, sig) => withSignature(out, sig.signer_user_id, sig.signer_key_id, sig.signature),
            object,
          );
      const master = keys.get('master');
      const masterKey = publicKeyOf(master);
      if (master !== undefined && masterKey !== undefined) {
        answer.masterKeys[userId] = merge(master, masterKey);
      }
      const selfSigning = keys.get('self_signing');
      if (selfSigning !== undefined) answer.selfSigningKeys[userId] = selfSigning;
      const userSigning = keys.get('user_signing');
      if (userSigning !== undefined && userId === requester) {
        answer.userSigningKeys[userId] = userSigning;
      }
      const devices = deviceKeys[userId] ?? {};
      for (const [deviceId, device] of Object.entries(devices)) {
        if (isObject(device)) devices[deviceId] = merge(device, deviceId);
      }
    }
    return answer;
  }
}

function row(
  signer: string,
  signerKeyId: string,
  target: string,
  targetKeyId: string,
  signature: string,
): SignatureRow {
  return {
    signer_user_id: signer,
    signer_key_id: signerKeyId,
    target_user_id: target,
    target_key_id: targetKeyId,
    signature,
  };
}

function verifies(object: Json, signer: string, keyId: string, publicKey: string): boolean {
  const { unsigned: _unsigned, ...signed } = object;
  try {
    return verifyJson(signed as JsonObject, signer, keyId, decodePublicKey(publicKey)).valid;
  } catch {
    return false;
  }
}

/** The row for `signer`'s signature by the Ed25519 key `publicKey` on `object`, if valid. */
function signatureRow(
  object: Json,
  signer: string,
  publicKey: string,
  target: string,
  targetKeyId: string,
): SignatureRow[] | undefined {
  const keyId = `ed25519:${publicKey}`;
  if (!verifies(object, signer, keyId, publicKey)) return undefined;
  const signature = ((object['signatures'] as Json)[signer] as Json)[keyId] as string;
  return [row(signer, keyId, target, targetKeyId, signature)];
}

/**
 * Another user's master key signed by the signer's user-signing key. The target's key need not be
 * stored here (it may be a remote user's): the object itself must be a master key whose ID is
 * `keyId`, and only the signer will see the signature.
 */
function userSigningSignatures(
  signer: string,
  own: ReadonlyMap<CrossSigningKeyType, Json>,
  userId: string,
  keyId: string,
  object: Json,
): SignatureRow[] | string {
  const userSigning = publicKeyOf(own.get('user_signing'));
  if (userSigning === undefined) return 'You have no user-signing key';
  const keys = object['keys'];
  if (!isObject(keys) || keys[`ed25519:${keyId}`] !== keyId) {
    return 'Only master keys of other users can be signed';
  }
  return (
    signatureRow(object, signer, userSigning, userId, keyId) ??
    'Not signed by your user-signing key'
  );
}
