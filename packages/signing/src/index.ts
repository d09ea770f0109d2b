/**
 * @weft/signing: Matrix signing. Ed25519 keys, signed JSON, content and reference hashes,
 * redaction, event and room IDs, server key responses.
 *
 * The whole public API is this list.
 */
export {
  decodeBase64,
  decodeBase64Lenient,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
} from './base64.ts';
export { SigningError, type SigningErrorCode, type SigningErrorContext } from './errors.ts';
export {
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeRoomId,
} from './event-hashes.ts';
export {
  type EncodedEvent,
  type EventVerification,
  type EventVerificationWithId,
  encodeEventForVerification,
  type KeyLookup,
  type SignedEventWithId,
  signEvent,
  signEventWithId,
  type VerifyEventOptions,
  verifyEncodedEvent,
  verifyEvent,
  verifyEventWithId,
} from './event-signing.ts';
export type { JsonObject, Signatures } from './json-object.ts';
export {
  decodePublicKey,
  ED25519,
  ed25519KeyId,
  generateSigningKey,
  type KeyId,
  parseKeyId,
  SigningKey,
  signingKeyFromSeed,
} from './keys.ts';
export {
  KEEP_ALL_CONTENT,
  REDACTION_V10,
  REDACTION_V11,
  REDACTION_V12,
  type RedactionRules,
  redactEvent,
} from './redaction.ts';
export {
  buildServerKeys,
  type OldVerifyKey,
  type ServerKeys,
  type ServerKeysInput,
  type ServerKeysResponse,
  verifyServerKeys,
} from './server-keys.ts';
export {
  type JsonVerification,
  type JsonVerificationFailure,
  type SignedJson,
  signJson,
  verifyJson,
} from './sign-json.ts';
