/**
 * Signing JSON and checking for a signature: spec appendices, "Signing JSON" > "Signing Details"
 * and "Checking for a Signature" (https://spec.matrix.org/v1.19/appendices/#signing-json).
 */
import { backend } from './backend.ts';
import { decodeBase64Lenient, encodeBase64 } from './base64.ts';
import { checkBytes, checkString } from './bytes.ts';
import { canonicalBytes, canonicalText } from './canonical.ts';
import { SigningError } from './errors.ts';
import {
  checkJsonObject,
  type JsonObject,
  omitKeys,
  readSignatures,
  type Signatures,
} from './json-object.ts';
import { ED25519, parseKeyId, SigningKey } from './keys.ts';

/** Why {@link verifyJson} did not accept a signature. */
export type JsonVerificationFailure =
  /** No `signatures[entity][keyId]` (step 1 and 2 of "Checking for a Signature"). */
  | 'missing-signature'
  /** The signature is not valid unpadded Base64 (step 4). */
  | 'bad-base64'
  /** The key identifier is not `ed25519:…` or the public key is not 32 bytes. */
  | 'bad-key'
  /** The signature does not verify over the canonical bytes (step 7). */
  | 'bad-signature';

/** Result of {@link verifyJson}: `valid`, or the reason it is not. */
export type JsonVerification =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: JsonVerificationFailure };

/** The value {@link signJson} returns: the input with its `signatures` member filled in. */
export type SignedJson<T extends JsonObject> = T & { readonly signatures: Signatures };

const VALID: JsonVerification = Object.freeze({ valid: true });

/**
 * The bytes a signature covers: canonical JSON of the object without `signatures` and `unsigned`
 * ("Signing Details": "encoding the JSON object without `signatures` or keys grouped as
 * `unsigned`").
 */
export function signedBytes(object: JsonObject): Uint8Array {
  return canonicalBytes(omitKeys(object, ['signatures', 'unsigned']));
}

/** {@link signedBytes} as a string (its UTF-8 encoding is the signed bytes). */
export function signedText(object: JsonObject): string {
  return canonicalText(omitKeys(object, ['signatures', 'unsigned']));
}

/**
 * A SigningKey, possibly from another copy of this package (duplicated installs break
 * `instanceof`), recognised by its shape.
 */
function isSigningKey(value: unknown): value is SigningKey {
  if (value instanceof SigningKey) return true;
  const candidate = value as Partial<SigningKey> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    !(candidate instanceof Uint8Array) &&
    typeof candidate.keyId === 'string' &&
    typeof candidate.sign === 'function'
  );
}

/** The signing function for `secretKey`, after checking it fits `keyId`. */
export function signerFor(
  keyId: string,
  secretKey: SigningKey | Uint8Array,
): (message: Uint8Array) => Uint8Array {
  const { algorithm } = parseKeyId(keyId);
  if (algorithm !== ED25519) {
    throw new SigningError('bad-key', 'only ed25519 keys can sign', { keyId });
  }
  if (isSigningKey(secretKey)) {
    if (secretKey.keyId !== keyId) {
      throw new SigningError(
        'bad-key',
        `keyId does not match the signing key (${secretKey.keyId})`,
        {
          keyId,
        },
      );
    }
    return (message) => secretKey.sign(message);
  }
  checkBytes(secretKey, 'secretKey');
  if (secretKey.length !== 32) {
    throw new SigningError('bad-key', `seed must be 32 bytes, got ${secretKey.length}`, { keyId });
  }
  return (message) => backend().sign(message, secretKey);
}

/**
 * Signs a JSON object as `entity` with `keyId` (spec appendices, "Signing Details"):
 * 1. remove `signatures` and `unsigned`, 2. encode as canonical JSON, 3. sign with Ed25519,
 * 4. store the unpadded Base64 signature at `signatures[entity][keyId]`, keeping every other
 * signature, and put `unsigned` back.
 *
 * `secretKey` is a {@link SigningKey} (whose `keyId` must equal `keyId`) or a 32-byte seed.
 * Returns a new object; the input is never modified (unchanged nested values are shared).
 */
export function signJson<T extends JsonObject>(
  object: T,
  entity: string,
  keyId: string,
  secretKey: SigningKey | Uint8Array,
): SignedJson<T> {
  checkJsonObject(object, 'object');
  checkString(entity, 'entity');
  checkString(keyId, 'keyId');
  const sign = signerFor(keyId, secretKey);
  const existing = readSignatures(object);
  const signature = encodeBase64(sign(signedBytes(object)));
  return {
    ...object,
    signatures: addSignature(existing, entity, keyId, signature),
  } as SignedJson<T>;
}

/**
 * A copy of `existing` signatures with `signature` added for `entity` under `keyId` (replacing
 * one under the same key ID); the caller's objects are left as they were.
 */
export function addSignature(
  existing: Signatures,
  entity: string,
  keyId: string,
  signature: string,
): Record<string, Record<string, string>> {
  const signatures: Record<string, Record<string, string>> = {};
  for (const name of Object.keys(existing)) signatures[name] = { ...existing[name] };
  signatures[entity] = { ...existing[entity], [keyId]: signature };
  return signatures;
}

/**
 * Checks that `object` carries a valid signature by `entity` under `keyId`, made with the
 * 32-byte Ed25519 `publicKey` (spec appendices, "Checking for a Signature", steps 1 and 4–7).
 * Never throws for a bad or missing signature: the result says why it is not valid. Throws
 * `SigningError('bad-json')` only when the object cannot be encoded as canonical JSON or its
 * `signatures` member is not an object of objects of strings. The signature is decoded as
 * signedjson's `verify_signed_json` decodes it (`decodeBase64Lenient`: either alphabet, trailing
 * bits ignored); text that is not Base64 at all gives `bad-base64`.
 */
export function verifyJson(
  object: JsonObject,
  entity: string,
  keyId: string,
  publicKey: Uint8Array,
): JsonVerification {
  checkJsonObject(object, 'object');
  checkString(entity, 'entity');
  checkString(keyId, 'keyId');
  checkBytes(publicKey, 'publicKey');
  const signature = readSignatures(object)[entity]?.[keyId];
  if (signature === undefined) return { valid: false, reason: 'missing-signature' };
  if (!keyId.startsWith(`${ED25519}:`) || publicKey.length !== 32) {
    return { valid: false, reason: 'bad-key' };
  }
  let signatureBytes: Uint8Array;
  try {
    signatureBytes = decodeBase64Lenient(signature);
  } catch {
    return { valid: false, reason: 'bad-base64' };
  }
  return backend().verifyUtf8(signatureBytes, signedText(object), publicKey)
    ? VALID
    : { valid: false, reason: 'bad-signature' };
}

/** Ed25519 verification on the active backend (strict RFC 8032). */
export function verifyBytes(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  return backend().verify(signature, message, publicKey);
}
