/**
 * Signing outgoing events and checking received ones.
 *
 * Spec: server-server API "Adding hashes and signatures to outgoing events" and "Validating
 * hashes and signatures on received events"
 * (https://spec.matrix.org/v1.19/server-server-api/#signing-events).
 */
import { backend } from './backend.ts';
import { decodeBase64Lenient, encodeBase64, encodeBase64Url } from './base64.ts';
import { constantTimeEqual } from './bytes.ts';
import { canonicalText } from './canonical.ts';
import { SigningError, type SigningErrorCode } from './errors.ts';
import {
  CONTENT_HASH_OMITTED_KEYS,
  type EventTexts,
  encodeEventTexts,
  encodeOutgoingEventTexts,
} from './event-encoding.ts';
import {
  checkJsonObject,
  isJsonObject,
  type JsonObject,
  own,
  readSignatures,
} from './json-object.ts';
import { decodeVerifyKey, ED25519, type SigningKey } from './keys.ts';
import { type RedactionRules, redactEvent, redactionRulesFor } from './redaction.ts';
import { addSignature, signerFor } from './sign-json.ts';

/**
 * Finds the public key for `entity`'s `keyId`, or `undefined` when it is unknown. Receives the
 * event's `origin_server_ts` so it can return `undefined` for a key known to have expired before
 * it ("any keys that are known to have expired prior to the event's origin_server_ts are
 * ignored"). Returns the 32-byte key as bytes or unpadded Base64.
 */
export type KeyLookup = (
  entity: string,
  keyId: string,
  originServerTs: number | undefined,
) => Uint8Array | string | undefined;

/** Options for {@link verifyEvent}. */
export interface VerifyEventOptions {
  /**
   * Servers whose signatures are required. Default: the server of `sender` (room versions 3 and
   * later), except for an invite made from a third-party invite, where the sending server may
   * differ from the sender's; there the default is every server that signed the event with a
   * key the lookup knows, and at least one such signature is required.
   */
  readonly requiredServers?: readonly string[];
}

/**
 * The outcome of {@link verifyEvent}:
 * - `valid`: signatures and content hash check out; use the event as received.
 * - `redact`: signatures are valid but the content hash is not: use `redacted` instead of the
 *   event ("the receiving server should use the redacted copy it calculated").
 * - `reject`: a required signature is missing or wrong, or the event is malformed: drop it.
 * - `missing-key`: no key for any of `entity`'s signatures is known: fetch keys and retry.
 */
export type EventVerification =
  | { readonly status: 'valid' }
  | {
      readonly status: 'redact';
      readonly code: 'content-hash-mismatch';
      readonly redacted: Record<string, unknown>;
    }
  | {
      readonly status: 'reject';
      readonly code: Extract<SigningErrorCode, 'bad-signature' | 'missing-signature' | 'bad-event'>;
      readonly message: string;
      readonly entity?: string;
      readonly keyId?: string;
    }
  | {
      readonly status: 'missing-key';
      readonly code: 'missing-key';
      readonly entity: string;
      readonly keyIds: readonly string[];
    };

const VALID: EventVerification = Object.freeze({ status: 'valid' });

/**
 * Hashes and signs an outgoing event as `serverName` ("Adding hashes and signatures to outgoing
 * events"): 1. compute the content hash and store it as `hashes: { sha256 }` (replacing any
 * previous `hashes`), 2. redact the event by the room version's rules, 3. sign the redacted
 * event as in "Signing JSON", 4. copy the signature back into the full event, keeping any
 * signatures already present. Returns a new object; the input is never modified.
 */
export function signEvent(
  event: JsonObject,
  roomVersion: string | RedactionRules,
  serverName: string,
  signingKey: SigningKey,
): Record<string, unknown> {
  // One signing path: the event ID computed beside it costs a SHA-256 of text already encoded.
  return signEventWithId(event, roomVersion, serverName, signingKey).event;
}

/** The outcome of {@link signEventWithId}. */
export interface SignedEventWithId {
  /** The event with `hashes` and `signatures`, as {@link signEvent} returns it. */
  readonly event: Record<string, unknown>;
  /** Its event ID, as `computeEventId` gives it for the signed event. */
  readonly eventId: string;
  /**
   * The size in bytes of the signed event as canonical JSON (what the 65,536-byte PDU limit
   * counts), as `encodeCanonicalJsonBytes(event).length` would give it: a sender checks the
   * limit without encoding the event once more.
   */
  readonly canonicalBytes: number;
}

const utf8 = new TextEncoder();

/**
 * {@link signEvent} that also returns the event ID, from the same encoding: the signature covers
 * the redacted, hashed event without `signatures` and `unsigned` ("Signing JSON" on the redacted
 * event), and the reference hash covers the redacted signed event without `signatures` and
 * `unsigned` ("Calculating the reference hash for an event") — the same text, since the
 * signature goes only into `signatures`. Saves a sender the second redaction and canonical
 * encoding `computeEventId` would cost.
 */
export function signEventWithId(
  event: JsonObject,
  roomVersion: string | RedactionRules,
  serverName: string,
  signingKey: SigningKey,
): SignedEventWithId {
  checkJsonObject(event, 'event');
  if (typeof serverName !== 'string') throw new TypeError('serverName must be a string');
  const rules = redactionRulesFor(roomVersion);
  // The checks `signEvent` gets from `signJson`: an Ed25519 key whose `keyId` matches.
  const sign = signerFor(signingKey.keyId, signingKey);
  // One encoding: the content hash of the event, then the redacted event with that hash in
  // `hashes` is the signed text (and the reference hash's input).
  const { texts, hashes } = encodeOutgoingEventTexts(event, rules, (contentHashText) => ({
    sha256: encodeBase64(backend().sha256Utf8(contentHashText)),
  }));
  const signedText = texts.signedText;
  const hashed = { ...event, hashes };
  const signature = encodeBase64(sign(utf8.encode(signedText)));
  // Signatures already on the event survive only where redaction keeps them, as in signEvent.
  const existing = rules.topLevelKeys.includes('signatures') ? readSignatures(hashed) : {};
  const signed = {
    ...hashed,
    signatures: addSignature(existing, serverName, signingKey.keyId, signature),
  };
  return {
    event: signed,
    eventId: `$${encodeBase64Url(backend().sha256Utf8(signedText))}`,
    canonicalBytes: canonicalBytesOf(signed, texts.contentHashText),
  };
}

/** The server name of a user ID `@localpart:server`, or undefined when `sender` is not one. */
function serverOf(sender: unknown): string | undefined {
  if (typeof sender !== 'string' || !sender.startsWith('@')) return undefined;
  const colon = sender.indexOf(':');
  return colon < 0 || colon === sender.length - 1 ? undefined : sender.slice(colon + 1);
}

function isThirdPartyInvite(event: JsonObject): boolean {
  const content = own(event, 'content');
  return (
    own(event, 'type') === 'm.room.member' &&
    isJsonObject(content) &&
    own(content, 'membership') === 'invite' &&
    own(content, 'third_party_invite') !== undefined
  );
}

function reject(
  code: 'bad-signature' | 'missing-signature' | 'bad-event',
  message: string,
  entity?: string,
  keyId?: string,
): EventVerification {
  return {
    status: 'reject',
    code,
    message,
    ...(entity === undefined ? {} : { entity }),
    ...(keyId === undefined ? {} : { keyId }),
  };
}

/**
 * Checks a received event's signatures, then its content hash ("Validating hashes and
 * signatures on received events"):
 * 1. Redact the event by the room version's rules.
 * 2. For each required server, check its `ed25519` signatures on the redacted event ("Checking
 *    for a Signature"): signatures under keys the lookup does not know are skipped; every known
 *    one must verify.
 * 3. If all pass, compare the event's `hashes.sha256` with its content hash (constant-time).
 *    A mismatch or a missing hash means only the redacted form may be used.
 * Returns an {@link EventVerification}. Throws only for misuse: wrong argument types or an empty
 * `requiredServers` (TypeError/RangeError), an unknown room version
 * (`SigningError('unsupported-room-version')`), or a key from `keyLookup` that is not 32 bytes
 * (`SigningError('bad-key')`).
 */
export function verifyEvent(
  event: JsonObject,
  roomVersion: string | RedactionRules,
  keyLookup: KeyLookup,
  options: VerifyEventOptions = {},
): EventVerification {
  // No event ID wanted: skip the reference hash (a SHA-256 of the whole text per event).
  return verifyAndName(event, roomVersion, keyLookup, options, undefined);
}

/** The outcome of {@link verifyEventWithId}. */
export interface EventVerificationWithId {
  readonly verification: EventVerification;
  /**
   * The event ID (room versions 4+: `$` + URL-safe Base64 of the reference hash, as
   * `computeEventId` gives it); undefined only when the event cannot be encoded (then
   * `verification` is a `bad-event` rejection).
   */
  readonly eventId: string | undefined;
}

/**
 * {@link verifyEvent} that also returns the event ID, from the same encoding: the reference hash
 * covers the redacted event without `signatures` and `unsigned` ("Calculating the reference hash
 * for an event"), which is exactly the text the signatures cover ("Checking for a Signature",
 * steps 5–6, on the redacted event). (`age_ts`, once also removed for the reference hash, is
 * dropped by every room version's redaction.) Saves a receiver the second redaction and
 * canonical encoding `computeEventId` would cost.
 */
export function verifyEventWithId(
  event: JsonObject,
  roomVersion: string | RedactionRules,
  keyLookup: KeyLookup,
  options: VerifyEventOptions = {},
): EventVerificationWithId {
  let eventId: string | undefined;
  const verification = verifyAndName(event, roomVersion, keyLookup, options, (id) => {
    eventId = id;
  });
  return { verification, eventId };
}

function verifyAndName(
  event: JsonObject,
  roomVersion: string | RedactionRules,
  keyLookup: KeyLookup,
  options: VerifyEventOptions,
  onEventId: ((eventId: string) => void) | undefined,
): EventVerification {
  checkJsonObject(event, 'event');
  checkVerifyArguments(keyLookup, options);
  const rules = redactionRulesFor(roomVersion);
  let texts: EventTexts;
  try {
    texts = encodeEventTexts(event, rules);
    onEventId?.(eventIdOf(texts));
  } catch (error) {
    if (!SigningError.isInstance(error)) throw error;
    return reject('bad-event', error.message);
  }
  return verifyTexts(event, texts, rules, keyLookup, options);
}

function checkVerifyArguments(keyLookup: KeyLookup, options: VerifyEventOptions): void {
  if (typeof keyLookup !== 'function') throw new TypeError('keyLookup must be a function');
  if (options.requiredServers !== undefined && options.requiredServers.length === 0) {
    // An empty list would check no signature at all: refuse rather than accept unsigned events.
    throw new RangeError('requiredServers must name at least one server');
  }
}

/** The event ID (room versions 4+) of an event whose signed text is `texts.signedText`. */
function eventIdOf(texts: EventTexts): string {
  return `$${encodeBase64Url(backend().sha256Utf8(texts.signedText))}`;
}

/**
 * An event encoded once for {@link verifyEncodedEvent}, with what a receiver checks before any
 * signature (spec server-server API "Checks performed on receipt of a PDU", step 1): its ID and
 * its size, from the same encoding the signature check uses.
 */
export interface EncodedEvent {
  /** The event ID (room versions 4+), as `computeEventId` gives it. */
  readonly eventId: string;
  /**
   * The size in bytes of the whole event as canonical JSON — every key, `signatures` and
   * `unsigned` included — which is what the 65,536-byte limit on a PDU counts (client-server
   * API "Size limits"), as `encodeCanonicalJsonBytes(event).length` would give it.
   */
  readonly canonicalBytes: number;
  /** The text the signatures and the reference hash cover. */
  readonly signedText: string;
  /** The text the content hash covers. */
  readonly contentHashText: string;
}

/** The keys the content-hash text leaves out (the whole event's size counts them too). */
const OUTSIDE_CONTENT_HASH = CONTENT_HASH_OMITTED_KEYS;

/**
 * Encodes `event` once for a receiver: its ID, its canonical size and the two texts
 * {@link verifyEncodedEvent} checks, so a receiver needs no other encoding of the event for the
 * format, size, event ID, signature and content hash checks. Throws `SigningError` (`bad-json`,
 * `bad-event`) for an event canonical JSON cannot encode.
 */
export function encodeEventForVerification(
  event: JsonObject,
  roomVersion: string | RedactionRules,
): EncodedEvent {
  checkJsonObject(event, 'event');
  const texts = encodeEventTexts(event, redactionRulesFor(roomVersion));
  return {
    ...texts,
    eventId: eventIdOf(texts),
    canonicalBytes: canonicalBytesOf(event, texts.contentHashText),
  };
}

/**
 * The canonical JSON size of `event` given its content-hash text: that text's members plus the
 * keys it leaves out. Only the length is wanted, and it does not depend on where in the key
 * order they go.
 */
function canonicalBytesOf(event: JsonObject, contentHashText: string): number {
  let bytes = utf8Length(contentHashText);
  let members = contentHashText === '{}' ? 0 : 1;
  for (const key of OUTSIDE_CONTENT_HASH) {
    if (!Object.hasOwn(event, key)) continue;
    const member = `"${key}":${canonicalText(event[key])}`;
    bytes += (members > 0 ? 1 : 0) + utf8Length(member);
    members++;
  }
  return bytes;
}

/**
 * {@link verifyEvent} of an event {@link encodeEventForVerification} encoded: the same outcome,
 * without encoding it again. `encoded` must be that function's result for this very event.
 */
export function verifyEncodedEvent(
  event: JsonObject,
  encoded: EncodedEvent,
  roomVersion: string | RedactionRules,
  keyLookup: KeyLookup,
  options: VerifyEventOptions = {},
): EventVerification {
  checkJsonObject(event, 'event');
  checkVerifyArguments(keyLookup, options);
  return verifyTexts(event, encoded, redactionRulesFor(roomVersion), keyLookup, options);
}

/** UTF-8 length of a well-formed string (canonical JSON text has no lone surrogate). */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      // A surrogate pair: two units, four bytes.
      bytes += 2;
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** Signatures and content hash of `event`, whose texts are `texts`. */
function verifyTexts(
  event: JsonObject,
  texts: EventTexts,
  rules: RedactionRules,
  keyLookup: KeyLookup,
  options: VerifyEventOptions,
): EventVerification {
  let signatures: ReturnType<typeof readSignatures>;
  try {
    signatures = rules.topLevelKeys.includes('signatures') ? readSignatures(event) : {};
  } catch (error) {
    if (!SigningError.isInstance(error)) throw error;
    return reject('bad-event', error.message);
  }

  const ts = own(event, 'origin_server_ts');
  const originServerTs = typeof ts === 'number' ? ts : undefined;
  const thirdParty = options.requiredServers === undefined && isThirdPartyInvite(event);
  let required: readonly string[];
  if (options.requiredServers !== undefined) {
    required = options.requiredServers;
  } else if (thirdParty) {
    required = Object.keys(signatures);
  } else {
    const origin = serverOf(own(event, 'sender'));
    if (origin === undefined) return reject('bad-event', 'sender is not a user ID');
    required = [origin];
  }

  let checkedAny = false;
  let firstMissing: EventVerification | undefined;
  for (const entity of required) {
    const outcome = checkEntity(signatures, entity, texts.signedText, keyLookup, originServerTs);
    if (outcome === undefined) {
      checkedAny = true;
    } else if (outcome.status === 'reject' && outcome.code === 'bad-signature') {
      return outcome;
    } else if (!thirdParty) {
      return outcome;
    } else {
      firstMissing ??= outcome;
    }
  }
  if (thirdParty && !checkedAny) {
    return firstMissing ?? reject('missing-signature', 'event carries no signatures');
  }

  // Content hash: "The content hash in the hashes property of the received event is
  // base64-decoded, and the two are compared for equality." Decoded as Synapse's
  // check_event_content_hash does (unpaddedbase64: either alphabet, trailing bits ignored), and
  // so are signatures below: stricter decoding would reject or redact events Synapse keeps.
  const hashes = own(event, 'hashes');
  const received = isJsonObject(hashes) ? own(hashes, 'sha256') : undefined;
  let matches = false;
  if (typeof received === 'string') {
    try {
      const expected = backend().sha256Utf8(texts.contentHashText);
      matches = constantTimeEqual(decodeBase64Lenient(received), expected);
    } catch (error) {
      if (!SigningError.isInstance(error)) throw error;
      matches = false;
    }
  }
  if (matches) return VALID;
  return { status: 'redact', code: 'content-hash-mismatch', redacted: redactEvent(event, rules) };
}

/** Step 2 for one entity; undefined when its signatures are valid. */
function checkEntity(
  signatures: ReturnType<typeof readSignatures>,
  entity: string,
  message: string,
  keyLookup: KeyLookup,
  originServerTs: number | undefined,
): EventVerification | undefined {
  const byKey = Object.hasOwn(signatures, entity) ? signatures[entity] : undefined;
  // Step 2 of "Checking for a Signature": drop algorithms we don't understand.
  const keyIds =
    byKey === undefined ? [] : Object.keys(byKey).filter((id) => id.startsWith(`${ED25519}:`));
  if (byKey === undefined || keyIds.length === 0) {
    return reject('missing-signature', `no ed25519 signature from ${entity}`, entity);
  }
  let verified = 0;
  for (const keyId of keyIds) {
    const found = keyLookup(entity, keyId, originServerTs);
    if (found === undefined) continue;
    const publicKey = decodeVerifyKey(found);
    let signature: Uint8Array;
    try {
      signature = decodeBase64Lenient(byKey[keyId] as string);
    } catch {
      return reject(
        'bad-signature',
        `signature by ${entity} ${keyId} is not valid base64`,
        entity,
        keyId,
      );
    }
    if (!backend().verifyUtf8(signature, message, publicKey)) {
      return reject(
        'bad-signature',
        `signature by ${entity} ${keyId} does not verify`,
        entity,
        keyId,
      );
    }
    verified += 1;
  }
  if (verified === 0) return { status: 'missing-key', code: 'missing-key', entity, keyIds };
  return undefined;
}
