/**
 * An Olm session: one side of a double ratchet between two devices (Olm spec, "The Olm Protocol",
 * https://spec.matrix.org/v1.19/olm-megolm/olm/#the-olm-protocol, and the Matrix algorithm
 * `m.olm.v1.curve25519-aes-sha2`, client-server API "End-to-End Encryption").
 *
 * A session remembers the three public keys that started it (Alice's identity key I_A, her base
 * key E_A and Bob's one-time key E_B). Until it has decrypted a message from the other side, the
 * outbound side keeps sending pre-key messages (type 0) that carry those keys; afterwards it sends
 * normal messages (type 1). Sessions are created through `Account`.
 */

import { decodeBase64, decodeBase64Into, encodeBase64 } from '../base64.ts';
import { zeroize } from '../cipher.ts';
import { RatchetError } from '../errors.ts';
import { INBOUND_MESSAGE_SCRATCH, MESSAGE_SCRATCH } from '../message-scratch.ts';
import { openLibolmPickle, openPickle, sealLibolmPickle, sealPickle } from '../pickle.ts';
import { sha256Digest } from '../primitives.ts';
import { type RandomSource, systemRandom } from '../random.ts';
import { encodeUtf8Transient } from '../utf8-scratch.ts';
import { curvePublicKey, forgetKey } from './curve.ts';
import {
  DoubleRatchet,
  MAX_RECEIVER_CHAINS,
  MAX_SKIPPED_MESSAGE_KEYS,
  type RatchetSnapshot,
} from './double-ratchet.ts';
import { parseLibolmSession, writeLibolmSession } from './libolm-pickle.ts';
import {
  decodeNormalMessage,
  decodePreKeyMessage,
  encodePreKeyMessage,
  KEY_LENGTH,
} from './messages.ts';
import { aliceInitialKeys, bobInitialKeys } from './shared-secret.ts';

/** An encrypted Olm message as carried in `m.room.encrypted` to-device content. */
export interface OlmMessage {
  /** 0 = pre-key message (starts a session), 1 = normal message. */
  readonly type: 0 | 1;
  /** The encoded message, unpadded base64. */
  readonly body: string;
}

const PICKLE_KIND = 'weft.olm.session';

// Unchecked shapes of a pickle payload; every field is validated while restoring.
interface ChainPayload {
  readonly ratchetPrivate?: unknown;
  readonly ratchetKey?: unknown;
  readonly chainKey?: unknown;
  readonly messageKey?: unknown;
  readonly index?: unknown;
}
interface SessionPayload {
  readonly aliceIdentityKey?: unknown;
  readonly aliceBaseKey?: unknown;
  readonly bobOneTimeKey?: unknown;
  readonly receivedMessage?: unknown;
  readonly rootKey?: unknown;
  readonly sender?: unknown;
  readonly receivers?: unknown;
  readonly skipped?: unknown;
}
const PICKLE_VERSION = 1;

/** The public keys a session was started with; they identify it (session ID) and its pre-key messages. */
interface SessionKeys {
  readonly aliceIdentityKey: Uint8Array;
  readonly aliceBaseKey: Uint8Array;
  readonly bobOneTimeKey: Uint8Array;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkMessage(message: unknown): asserts message is OlmMessage {
  if (typeof message !== 'object' || message === null)
    throw new TypeError('message must be an object');
  const { type, body } = message as { type?: unknown; body?: unknown };
  if (type !== 0 && type !== 1) throw new TypeError('message.type must be 0 or 1');
  if (typeof body !== 'string') throw new TypeError('message.body must be a base64 string');
}

function checkRandom(random: unknown): asserts random is RandomSource {
  if (typeof random !== 'function') throw new TypeError('random must be a function');
}

// Lets Account build sessions without making the constructor public.
let construct: (
  keys: SessionKeys,
  ratchet: DoubleRatchet,
  received: boolean,
  random: RandomSource,
) => Session;

/** One end of an Olm session. Create with `Account.createOutboundSession` / `createInboundSession`. */
export class Session {
  readonly #keys: SessionKeys;
  readonly #ratchet: DoubleRatchet;
  readonly #random: RandomSource;
  #freed = false;
  #received: boolean;

  static {
    construct = (keys, ratchet, received, random) => new Session(keys, ratchet, received, random);
  }

  private constructor(
    keys: SessionKeys,
    ratchet: DoubleRatchet,
    received: boolean,
    random: RandomSource,
  ) {
    this.#keys = keys;
    this.#ratchet = ratchet;
    this.#received = received;
    this.#random = random;
  }

  /**
   * The session ID: unpadded base64 of SHA-256(I_A ‖ E_A ‖ E_B), as libolm computes it, so both
   * ends (and libolm peers) agree on it.
   */
  sessionId(): string {
    const { aliceIdentityKey, aliceBaseKey, bobOneTimeKey } = this.#keys;
    const input = new Uint8Array(3 * KEY_LENGTH);
    input.set(aliceIdentityKey, 0);
    input.set(aliceBaseKey, KEY_LENGTH);
    input.set(bobOneTimeKey, 2 * KEY_LENGTH);
    return encodeBase64(sha256Digest(input));
  }

  /** True once this session has decrypted a message; from then on it sends type-1 messages. */
  hasReceivedMessage(): boolean {
    return this.#received;
  }

  /**
   * Encrypts `plaintext` (a string is UTF-8 encoded). Sends a pre-key message (type 0) until the
   * session has received a reply, as "Sending the first pre-key messages" requires.
   */
  encrypt(plaintext: string | Uint8Array): OlmMessage {
    this.#assertLive();
    let bytes: Uint8Array;
    if (typeof plaintext === 'string') bytes = encodeUtf8Transient(plaintext);
    else if (plaintext instanceof Uint8Array) bytes = plaintext;
    else throw new TypeError('plaintext must be a string or a Uint8Array');
    let normal: Uint8Array;
    try {
      // Laid out in the shared outbound buffer, which is read (base64 or the pre-key wrapper)
      // before this method returns.
      normal = this.#ratchet.encrypt(bytes, this.#random, MESSAGE_SCRATCH);
    } finally {
      // A string's bytes are a transient shared buffer (`encodeUtf8Transient`): wipe it always.
      if (typeof plaintext === 'string') bytes.fill(0);
    }
    if (this.#received) return { type: 1, body: encodeBase64(normal) };
    const { bobOneTimeKey, aliceBaseKey, aliceIdentityKey } = this.#keys;
    return {
      type: 0,
      body: encodeBase64(
        encodePreKeyMessage(bobOneTimeKey, aliceBaseKey, aliceIdentityKey, normal),
      ),
    };
  }

  /**
   * Decrypts a message from the other side. Throws `RatchetError` (`bad-mac`, `bad-message-format`,
   * `unsupported-version`, `unknown-message-index`, `too-many-skipped-keys`, `session-mismatch` …)
   * and leaves the session unchanged when the message is rejected. The plaintext is a view of
   * the decrypted blocks: its `buffer` may go on with 1..16 bytes of (public) padding.
   */
  decrypt(message: OlmMessage): Uint8Array {
    this.#assertLive();
    checkMessage(message);
    const bytes = decodeBase64Into(message.body, INBOUND_MESSAGE_SCRATCH);
    let normal: Uint8Array;
    if (message.type === 0) {
      const preKey = decodePreKeyMessage(bytes);
      if (!this.#matches(preKey.identityKey, preKey.baseKey, preKey.oneTimeKey)) {
        throw new RatchetError('session-mismatch', 'pre-key message belongs to another session');
      }
      normal = preKey.message;
    } else {
      normal = bytes;
    }
    const plaintext = this.#ratchet.decrypt(normal);
    this.#received = true;
    return plaintext;
  }

  /**
   * True when `preKeyBody` (a type-0 message body) was sent on this session: its identity, base
   * and one-time keys are the ones this session started with. Never throws on malformed input.
   */
  matchesInboundSession(preKeyBody: string, theirIdentityKey?: string): boolean {
    if (typeof preKeyBody !== 'string') throw new TypeError('preKeyBody must be a base64 string');
    try {
      const preKey = decodePreKeyMessage(decodeBase64(preKeyBody));
      if (
        theirIdentityKey !== undefined &&
        !sameBytes(decodeBase64(theirIdentityKey), preKey.identityKey)
      ) {
        return false;
      }
      return this.#matches(preKey.identityKey, preKey.baseKey, preKey.oneTimeKey);
    } catch (error) {
      if (RatchetError.isInstance(error)) return false;
      throw error;
    }
  }

  #matches(identityKey: Uint8Array, baseKey: Uint8Array, oneTimeKey: Uint8Array): boolean {
    const keys = this.#keys;
    return (
      sameBytes(identityKey, keys.aliceIdentityKey) &&
      sameBytes(baseKey, keys.aliceBaseKey) &&
      sameBytes(oneTimeKey, keys.bobOneTimeKey)
    );
  }

  /**
   * The session in libolm's own pickle format (session pickle version 1), for
   * `olm_unpickle_session` (python-olm `Session.from_pickle`) under `pickleKey` (bytes, or a
   * string taken as UTF-8); libolm then continues the conversation where Weft left it.
   */
  toLibolmPickle(pickleKey: Uint8Array | string): string {
    this.#assertLive();
    const ratchet = this.#ratchet.snapshot();
    const body = writeLibolmSession({ ...this.#keys, receivedMessage: this.#received, ratchet });
    zeroize(ratchet.rootKey, ratchet.sender?.ratchetPrivate, ratchet.sender?.chainKey);
    for (const chain of ratchet.receivers) chain.chainKey.fill(0);
    for (const skipped of ratchet.skipped) skipped.messageKey.fill(0);
    try {
      return sealLibolmPickle(body, pickleKey);
    } finally {
      body.fill(0);
    }
  }

  /** The session as an encrypted, authenticated pickle under a 32-byte `pickleKey`. */
  pickle(pickleKey: Uint8Array): string {
    this.#assertLive();
    const snapshot = this.#ratchet.snapshot();
    const payload = {
      aliceIdentityKey: encodeBase64(this.#keys.aliceIdentityKey),
      aliceBaseKey: encodeBase64(this.#keys.aliceBaseKey),
      bobOneTimeKey: encodeBase64(this.#keys.bobOneTimeKey),
      receivedMessage: this.#received,
      rootKey: encodeBase64(snapshot.rootKey),
      sender:
        snapshot.sender === undefined
          ? null
          : {
              ratchetPrivate: encodeBase64(snapshot.sender.ratchetPrivate),
              chainKey: encodeBase64(snapshot.sender.chainKey),
              index: snapshot.sender.index,
            },
      receivers: snapshot.receivers.map((chain) => ({
        ratchetKey: encodeBase64(chain.ratchetKey),
        chainKey: encodeBase64(chain.chainKey),
        index: chain.index,
      })),
      skipped: snapshot.skipped.map((skipped) => ({
        ratchetKey: encodeBase64(skipped.ratchetKey),
        index: skipped.index,
        messageKey: encodeBase64(skipped.messageKey),
      })),
    };
    try {
      return sealPickle(PICKLE_KIND, PICKLE_VERSION, payload, pickleKey, this.#random);
    } finally {
      zeroize(snapshot.rootKey, snapshot.sender?.ratchetPrivate, snapshot.sender?.chainKey);
      for (const chain of snapshot.receivers) chain.chainKey.fill(0);
      for (const skipped of snapshot.skipped) skipped.messageKey.fill(0);
    }
  }

  /**
   * Imports a session pickled by libolm 3.x (`olm_pickle_session`, session pickle version 1) under
   * `pickleKey` (the bytes or passphrase given to libolm). Throws `bad-pickle` or
   * `unsupported-version`.
   */
  static fromLibolmPickle(
    pickle: string,
    pickleKey: Uint8Array | string,
    random: RandomSource = systemRandom,
  ): Session {
    checkRandom(random);
    const plaintext = openLibolmPickle(pickle, pickleKey);
    try {
      const parsed = parseLibolmSession(plaintext);
      const keys = {
        aliceIdentityKey: parsed.aliceIdentityKey,
        aliceBaseKey: parsed.aliceBaseKey,
        bobOneTimeKey: parsed.bobOneTimeKey,
      };
      return construct(keys, DoubleRatchet.restore(parsed.ratchet), parsed.receivedMessage, random);
    } finally {
      plaintext.fill(0);
    }
  }

  /** Restores a session from `pickle()` output; `bad-pickle` on a wrong key, kind or shape. */
  static fromPickle(
    pickle: string,
    pickleKey: Uint8Array,
    random: RandomSource = systemRandom,
  ): Session {
    checkRandom(random);
    const { version, payload } = openPickle(PICKLE_KIND, pickle, pickleKey);
    if (version !== PICKLE_VERSION) {
      throw new RatchetError('unsupported-version', 'unknown Olm session pickle version', {
        context: { expected: PICKLE_VERSION, got: version },
      });
    }
    try {
      const p = payload as SessionPayload;
      const key = (value: unknown, length = KEY_LENGTH): Uint8Array => {
        if (typeof value !== 'string') throw new TypeError('expected base64');
        const bytes = decodeBase64(value);
        if (bytes.length !== length) throw new RangeError('wrong key length');
        return bytes;
      };
      const index = (value: unknown): number => {
        if (
          typeof value !== 'number' ||
          !Number.isInteger(value) ||
          value < 0 ||
          value > 0xffffffff
        ) {
          throw new RangeError('bad chain index');
        }
        return value;
      };
      // No more entries than the ratchet itself ever keeps (as the libolm-pickle reader caps).
      const list = (value: unknown, max: number): ChainPayload[] => {
        if (!Array.isArray(value)) throw new TypeError('expected a list');
        if (value.length > max) throw new RangeError('too many entries');
        return value as ChainPayload[];
      };
      const sender = p.sender as ChainPayload | null | undefined;
      const snapshot: RatchetSnapshot = {
        rootKey: key(p.rootKey),
        ...(sender === null || sender === undefined
          ? {}
          : {
              sender: {
                ratchetPrivate: key(sender.ratchetPrivate),
                chainKey: key(sender.chainKey),
                index: index(sender.index),
              },
            }),
        receivers: list(p.receivers, MAX_RECEIVER_CHAINS).map((chain) => ({
          ratchetKey: key(chain.ratchetKey),
          chainKey: key(chain.chainKey),
          index: index(chain.index),
        })),
        skipped: list(p.skipped, MAX_SKIPPED_MESSAGE_KEYS).map((skipped) => ({
          ratchetKey: key(skipped.ratchetKey),
          index: index(skipped.index),
          messageKey: key(skipped.messageKey),
        })),
      };
      if (typeof p.receivedMessage !== 'boolean') throw new TypeError('bad flag');
      const keys = {
        aliceIdentityKey: key(p.aliceIdentityKey),
        aliceBaseKey: key(p.aliceBaseKey),
        bobOneTimeKey: key(p.bobOneTimeKey),
      };
      return construct(keys, DoubleRatchet.restore(snapshot), p.receivedMessage, random);
    } catch (cause) {
      throw new RatchetError('bad-pickle', 'Olm session pickle has an invalid payload', { cause });
    }
  }

  #assertLive(): void {
    if (this.#freed) throw new TypeError('this Session has been freed');
  }

  /** Zeroes every secret this session holds; it cannot be used afterwards. */
  free(): void {
    this.#freed = true;
    this.#ratchet.zeroize();
  }

  /** Only public facts: never keys. */
  toJSON(): { sessionId: string; hasReceivedMessage: boolean } {
    return { sessionId: this.sessionId(), hasReceivedMessage: this.#received };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Session { sessionId: '${this.sessionId()}', hasReceivedMessage: ${this.#received} }`;
  }
}

/** Alice's side: triple DH with Bob's identity and one-time keys, then ratchet key T0. */
export function createOutbound(
  ourIdentityPrivate: Uint8Array,
  ourIdentityPublic: Uint8Array,
  theirIdentityKey: Uint8Array,
  theirOneTimeKey: Uint8Array,
  random: RandomSource,
): Session {
  // libolm's order of random consumption: 32 bytes base key E_A, then 32 bytes ratchet key T0.
  const basePrivate = random(64);
  if (!(basePrivate instanceof Uint8Array) || basePrivate.length !== 64) {
    throw new TypeError('random source must return a Uint8Array of 64 bytes');
  }
  const base = basePrivate.slice(0, 32);
  const ratchetPrivate = basePrivate.slice(32, 64);
  basePrivate.fill(0);
  try {
    // Kept for the two agreements that follow (one OpenSSL import instead of two).
    const aliceBaseKey = curvePublicKey(base, true);
    const { rootKey, chainKey } = aliceInitialKeys(
      ourIdentityPrivate,
      base,
      theirIdentityKey,
      theirOneTimeKey,
    );
    const keys = {
      aliceIdentityKey: Uint8Array.from(ourIdentityPublic),
      aliceBaseKey,
      bobOneTimeKey: Uint8Array.from(theirOneTimeKey),
    };
    return construct(keys, DoubleRatchet.asAlice(rootKey, chainKey, ratchetPrivate), false, random);
  } catch (error) {
    forgetKey(ratchetPrivate);
    ratchetPrivate.fill(0);
    throw error;
  } finally {
    forgetKey(base);
    base.fill(0);
  }
}

/**
 * Bob's side from a decoded pre-key message: triple DH with his one-time key, then decrypts the
 * embedded message. Returns the session and plaintext; throws (creating nothing) if it fails.
 */
export function createInbound(
  ourIdentityPrivate: Uint8Array,
  ourOneTimePrivate: Uint8Array,
  preKey: {
    identityKey: Uint8Array;
    baseKey: Uint8Array;
    oneTimeKey: Uint8Array;
    message: Uint8Array;
  },
  random: RandomSource,
): { session: Session; plaintext: Uint8Array } {
  // The embedded message carries Alice's first ratchet key T0.
  const inner = decodeNormalMessage(preKey.message);
  const { rootKey, chainKey } = bobInitialKeys(
    ourIdentityPrivate,
    ourOneTimePrivate,
    preKey.identityKey,
    preKey.baseKey,
  );
  const ratchet = DoubleRatchet.asBob(rootKey, chainKey, Uint8Array.from(inner.ratchetKey));
  try {
    const plaintext = ratchet.decrypt(preKey.message);
    const keys = {
      aliceIdentityKey: Uint8Array.from(preKey.identityKey),
      aliceBaseKey: Uint8Array.from(preKey.baseKey),
      bobOneTimeKey: Uint8Array.from(preKey.oneTimeKey),
    };
    return { session: construct(keys, ratchet, true, random), plaintext };
  } catch (error) {
    ratchet.zeroize();
    throw error;
  }
}
