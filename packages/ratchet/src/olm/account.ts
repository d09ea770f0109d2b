/**
 * An Olm account: a device's long-term identity (an Ed25519 signing key and a Curve25519 identity
 * key), its one-time keys and fallback keys, and the factory for Olm sessions.
 *
 * Spec: client-server API "End-to-End Encryption" (device keys, one-time and fallback keys,
 * `m.olm.v1.curve25519-aes-sha2`) and the Olm spec "Creating an outbound session"
 * (https://spec.matrix.org/v1.19/olm-megolm/olm/#creating-an-outbound-session).
 *
 * Randomness is consumed in libolm's order so a recorded libolm random stream reproduces libolm's
 * keys: account creation takes 64 bytes (Ed25519 seed, then Curve25519 private key); each one-time
 * or fallback key takes 32 bytes; an outbound session takes 64 (base key, then ratchet key).
 */
import { decodeBase64, encodeBase64 } from '../base64.ts';
import { expandedPublicKey, expandSeed, signWithExpanded } from '../ed25519-expanded.ts';
import { RatchetError } from '../errors.ts';
import { openLibolmPickle, openPickle, sealLibolmPickle, sealPickle } from '../pickle.ts';
import { type RandomSource, randomBytes, systemRandom } from '../random.ts';
import { curvePublicKey, edPublicKey, edSign, forgetKey } from './curve.ts';
import { type LibolmCurveKey, parseLibolmAccount, writeLibolmAccount } from './libolm-pickle.ts';
import { decodePreKeyMessage, KEY_LENGTH } from './messages.ts';
import { createInbound, createOutbound, type Session } from './session.ts';

/** libolm's MAX_ONE_TIME_KEYS: generating more drops the oldest. */
const MAX_ONE_TIME_KEYS = 100;
const PICKLE_KIND = 'weft.olm.account';

// Unchecked shapes of a pickle payload; every field is validated while restoring.
interface CurveKeyPayload {
  readonly id?: unknown;
  readonly published?: unknown;
  readonly privateKey?: unknown;
}
interface AccountPayload {
  readonly ed25519Secret?: unknown;
  readonly curve25519Private?: unknown;
  readonly oneTimeKeys?: unknown;
  readonly fallback?: unknown;
  readonly previousFallback?: unknown;
  readonly nextKeyId?: unknown;
}
const PICKLE_VERSION = 1;
const encoder = new TextEncoder();

interface CurveKey {
  readonly id: number;
  published: boolean;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The account's public identity keys, unpadded base64, as published in device keys. */
export interface IdentityKeys {
  readonly ed25519: string;
  readonly curve25519: string;
}

/** Key IDs are libolm's: the 32-bit key counter, big-endian, in unpadded base64 (1 → "AAAAAQ"). */
function keyIdOf(id: number): string {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, id);
  return encodeBase64(bytes);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function decodeKey(value: unknown, name: string): Uint8Array {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a base64 string`);
  const bytes = decodeBase64(value);
  if (bytes.length !== KEY_LENGTH) {
    throw new RatchetError('bad-key', `${name} is not a Curve25519 public key`, {
      context: { length: bytes.length },
    });
  }
  return bytes;
}

function checkRandom(random: unknown): asserts random is RandomSource {
  if (typeof random !== 'function') throw new TypeError('random must be a function');
}

// The account's private keys live until zeroed, so their OpenSSL key objects are kept
// (`curvePublicKey(…, true)`); `dropKey` forgets and zeroes one.
function makeCurveKey(id: number, privateKey: Uint8Array): CurveKey {
  return { id, published: false, privateKey, publicKey: curvePublicKey(privateKey, true) };
}

function dropKey(privateKey: Uint8Array | undefined): void {
  if (privateKey === undefined) return;
  forgetKey(privateKey);
  privateKey.fill(0);
}

/** A device's Olm identity, one-time keys and fallback keys. */
export class Account {
  // The Ed25519 secret: a 32-byte seed, or (accounts imported from libolm, which keeps no seed)
  // the 64-byte expanded key.
  readonly #edSecret: Uint8Array;
  readonly #edPublic: Uint8Array;
  readonly #curvePrivate: Uint8Array;
  readonly #curvePublic: Uint8Array;
  #oneTimeKeys: CurveKey[];
  #fallback: CurveKey | undefined;
  #previousFallback: CurveKey | undefined;
  #nextKeyId: number;
  readonly #random: RandomSource;
  #freed = false;

  private constructor(
    edSecret: Uint8Array,
    curvePrivate: Uint8Array,
    state: {
      oneTimeKeys: CurveKey[];
      fallback: CurveKey | undefined;
      previousFallback: CurveKey | undefined;
      nextKeyId: number;
    },
    random: RandomSource,
  ) {
    this.#edSecret = edSecret;
    this.#edPublic =
      edSecret.length === 32 ? edPublicKey(edSecret, true) : expandedPublicKey(edSecret);
    this.#curvePrivate = curvePrivate;
    this.#curvePublic = curvePublicKey(curvePrivate, true);
    this.#oneTimeKeys = state.oneTimeKeys;
    this.#fallback = state.fallback;
    this.#previousFallback = state.previousFallback;
    this.#nextKeyId = state.nextKeyId;
    this.#random = random;
  }

  /**
   * Creates a new account from 64 random bytes (Ed25519 seed, then Curve25519 private key).
   * `random` defaults to the platform CSPRNG; it is kept for later key and session generation.
   */
  static create(random: RandomSource = systemRandom): Account {
    checkRandom(random);
    const bytes = randomBytes(random, 64);
    const account = new Account(
      bytes.slice(0, 32),
      bytes.slice(32, 64),
      { oneTimeKeys: [], fallback: undefined, previousFallback: undefined, nextKeyId: 0 },
      random,
    );
    bytes.fill(0);
    return account;
  }

  /** The most one-time keys the account holds; generating more discards the oldest. */
  get maxNumberOfOneTimeKeys(): number {
    return MAX_ONE_TIME_KEYS;
  }

  /** The public identity keys (Ed25519 for signing, Curve25519 for Olm). */
  identityKeys(): IdentityKeys {
    return { ed25519: encodeBase64(this.#edPublic), curve25519: encodeBase64(this.#curvePublic) };
  }

  /** An Ed25519 signature (unpadded base64) of `message` (strings are signed as UTF-8). */
  sign(message: string | Uint8Array): string {
    this.#assertLive();
    let bytes: Uint8Array;
    if (typeof message === 'string') bytes = encoder.encode(message);
    else if (message instanceof Uint8Array) bytes = message;
    else throw new TypeError('message must be a string or a Uint8Array');
    const signature =
      this.#edSecret.length === 32
        ? edSign(this.#edSecret, bytes)
        : signWithExpanded(this.#edSecret, this.#edPublic, bytes);
    return encodeBase64(signature);
  }

  /** Generates `count` new one-time keys (32 random bytes each), newest first like libolm. */
  generateOneTimeKeys(count: number): void {
    this.#assertLive();
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError('count must be a non-negative integer');
    }
    if (count === 0) return;
    const bytes = randomBytes(this.#random, 32 * count);
    for (let i = 0; i < count; i++) {
      this.#nextKeyId = (this.#nextKeyId + 1) >>> 0;
      this.#oneTimeKeys.unshift(makeCurveKey(this.#nextKeyId, bytes.slice(32 * i, 32 * i + 32)));
    }
    bytes.fill(0);
    for (const dropped of this.#oneTimeKeys.splice(MAX_ONE_TIME_KEYS)) dropKey(dropped.privateKey);
  }

  /** The unpublished one-time keys: key ID → Curve25519 public key (unpadded base64). */
  oneTimeKeys(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of this.#oneTimeKeys) {
      if (!key.published) out[keyIdOf(key.id)] = encodeBase64(key.publicKey);
    }
    return out;
  }

  /** Marks every current one-time key and the fallback key as published. */
  markKeysAsPublished(): void {
    for (const key of this.#oneTimeKeys) key.published = true;
    if (this.#fallback !== undefined) this.#fallback.published = true;
  }

  /**
   * Generates a new fallback key (32 random bytes). The previous one is kept, so sessions started
   * from it still work, until `forgetOldFallbackKey` or the next rotation.
   */
  generateFallbackKey(): void {
    this.#assertLive();
    const bytes = randomBytes(this.#random, 32);
    this.#nextKeyId = (this.#nextKeyId + 1) >>> 0;
    dropKey(this.#previousFallback?.privateKey);
    this.#previousFallback = this.#fallback;
    this.#fallback = makeCurveKey(this.#nextKeyId, bytes);
  }

  /** The current fallback key if it is not yet published: key ID → public key (or empty). */
  fallbackKey(): Record<string, string> {
    const key = this.#fallback;
    if (key === undefined || key.published) return {};
    return { [keyIdOf(key.id)]: encodeBase64(key.publicKey) };
  }

  /** Discards the previous fallback key (call once peers have had time to use the new one). */
  forgetOldFallbackKey(): void {
    dropKey(this.#previousFallback?.privateKey);
    this.#previousFallback = undefined;
  }

  /**
   * Starts a session to a device with identity key `theirIdentityKey`, using one of its one-time
   * (or fallback) keys `theirOneTimeKey` (both Curve25519, unpadded base64).
   */
  createOutboundSession(theirIdentityKey: string, theirOneTimeKey: string): Session {
    this.#assertLive();
    const identity = decodeKey(theirIdentityKey, 'theirIdentityKey');
    const oneTime = decodeKey(theirOneTimeKey, 'theirOneTimeKey');
    return createOutbound(this.#curvePrivate, this.#curvePublic, identity, oneTime, this.#random);
  }

  /**
   * Creates the inbound session from a pre-key message body and decrypts that first message. If
   * `theirIdentityKey` is given it must be the sender's key in the message (`session-mismatch`
   * otherwise). The one-time key used is removed (fallback keys stay); on any failure the account
   * is unchanged.
   */
  createInboundSession(
    theirIdentityKey: string | undefined,
    preKeyMessageBody: string,
  ): { session: Session; plaintext: Uint8Array } {
    this.#assertLive();
    if (typeof preKeyMessageBody !== 'string') {
      throw new TypeError('preKeyMessageBody must be a base64 string');
    }
    if (theirIdentityKey !== undefined && typeof theirIdentityKey !== 'string') {
      throw new TypeError('theirIdentityKey must be a base64 string or undefined');
    }
    const preKey = decodePreKeyMessage(decodeBase64(preKeyMessageBody));
    if (theirIdentityKey !== undefined) {
      const expected = decodeKey(theirIdentityKey, 'theirIdentityKey');
      if (!sameBytes(expected, preKey.identityKey)) {
        throw new RatchetError('session-mismatch', 'pre-key message is from another identity key');
      }
    }
    const position = this.#oneTimeKeys.findIndex((key) =>
      sameBytes(key.publicKey, preKey.oneTimeKey),
    );
    const key =
      this.#oneTimeKeys[position] ??
      [this.#fallback, this.#previousFallback].find(
        (candidate) => candidate !== undefined && sameBytes(candidate.publicKey, preKey.oneTimeKey),
      );
    if (key === undefined) {
      throw new RatchetError(
        'unknown-one-time-key',
        'pre-key message uses an unknown one-time key',
      );
    }
    const result = createInbound(this.#curvePrivate, key.privateKey, preKey, this.#random);
    if (position >= 0) {
      dropKey(key.privateKey);
      this.#oneTimeKeys.splice(position, 1);
    }
    return result;
  }

  /**
   * The account in libolm's own pickle format (account pickle version 4, libolm 3.2), for
   * `olm_unpickle_account` (python-olm `Account.from_pickle`) under `pickleKey` (bytes, or a
   * string taken as UTF-8 as python-olm does). libolm keeps the expanded Ed25519 key, so a
   * seed is expanded (SHA-512, clamped) for it.
   */
  toLibolmPickle(pickleKey: Uint8Array | string): string {
    this.#assertLive();
    const expanded =
      this.#edSecret.length === 32 ? expandSeed(this.#edSecret) : Uint8Array.from(this.#edSecret);
    const body = writeLibolmAccount({
      ed25519Public: this.#edPublic,
      ed25519Expanded: expanded,
      curve25519Public: this.#curvePublic,
      curve25519Private: this.#curvePrivate,
      oneTimeKeys: this.#oneTimeKeys,
      fallback: this.#fallback,
      previousFallback: this.#previousFallback,
      nextKeyId: this.#nextKeyId,
    });
    expanded.fill(0);
    try {
      return sealLibolmPickle(body, pickleKey);
    } finally {
      body.fill(0);
    }
  }

  /** The account as an encrypted, authenticated pickle under a 32-byte `pickleKey`. */
  pickle(pickleKey: Uint8Array): string {
    this.#assertLive();
    const curveKey = (key: CurveKey) => ({
      id: key.id,
      published: key.published,
      privateKey: encodeBase64(key.privateKey),
    });
    const payload = {
      ed25519Secret: encodeBase64(this.#edSecret),
      curve25519Private: encodeBase64(this.#curvePrivate),
      oneTimeKeys: this.#oneTimeKeys.map(curveKey),
      fallback: this.#fallback === undefined ? null : curveKey(this.#fallback),
      previousFallback:
        this.#previousFallback === undefined ? null : curveKey(this.#previousFallback),
      nextKeyId: this.#nextKeyId,
    };
    return sealPickle(PICKLE_KIND, PICKLE_VERSION, payload, pickleKey, this.#random);
  }

  /** Restores an account from `pickle()` output; `bad-pickle` on a wrong key, kind or shape. */
  /**
   * Imports an account pickled by libolm 3.2 (`olm_pickle_account`, account pickle version 4)
   * under `pickleKey` (the bytes or passphrase given to libolm). Keeps its identity keys, one-time
   * keys, fallback keys and key counter. Throws `bad-pickle` or `unsupported-version`.
   */
  static fromLibolmPickle(
    pickle: string,
    pickleKey: Uint8Array | string,
    random: RandomSource = systemRandom,
  ): Account {
    checkRandom(random);
    const plaintext = openLibolmPickle(pickle, pickleKey);
    try {
      const parsed = parseLibolmAccount(plaintext);
      const curveKey = (key: LibolmCurveKey): CurveKey => {
        const made = makeCurveKey(key.id, key.privateKey);
        made.published = key.published;
        return made;
      };
      return new Account(
        parsed.ed25519Expanded,
        parsed.curve25519Private,
        {
          oneTimeKeys: parsed.oneTimeKeys.map(curveKey),
          fallback: parsed.fallback === undefined ? undefined : curveKey(parsed.fallback),
          previousFallback:
            parsed.previousFallback === undefined ? undefined : curveKey(parsed.previousFallback),
          nextKeyId: parsed.nextKeyId,
        },
        random,
      );
    } finally {
      plaintext.fill(0);
    }
  }

  static fromPickle(
    pickle: string,
    pickleKey: Uint8Array,
    random: RandomSource = systemRandom,
  ): Account {
    checkRandom(random);
    const { version, payload } = openPickle(PICKLE_KIND, pickle, pickleKey);
    if (version !== PICKLE_VERSION) {
      throw new RatchetError('unsupported-version', 'unknown Olm account pickle version', {
        context: { expected: PICKLE_VERSION, got: version },
      });
    }
    try {
      const p = payload as AccountPayload;
      const secret = (value: unknown, lengths: readonly number[] = [32]): Uint8Array => {
        if (typeof value !== 'string') throw new TypeError('expected base64');
        const bytes = decodeBase64(value);
        if (!lengths.includes(bytes.length)) throw new RangeError('wrong key length');
        return bytes;
      };
      const keyId = (value: unknown): number => {
        if (
          typeof value !== 'number' ||
          !Number.isInteger(value) ||
          value < 0 ||
          value > 0xffffffff
        ) {
          throw new RangeError('bad key id');
        }
        return value;
      };
      const curveKey = (value: unknown): CurveKey => {
        const k = value as CurveKeyPayload;
        if (typeof k.published !== 'boolean') throw new TypeError('bad flag');
        const key = makeCurveKey(keyId(k.id), secret(k.privateKey));
        key.published = k.published;
        return key;
      };
      if (!Array.isArray(p.oneTimeKeys) || p.oneTimeKeys.length > MAX_ONE_TIME_KEYS) {
        throw new TypeError('bad one-time key list');
      }
      return new Account(
        secret(p.ed25519Secret, [32, 64]),
        secret(p.curve25519Private),
        {
          oneTimeKeys: p.oneTimeKeys.map(curveKey),
          fallback: p.fallback === null ? undefined : curveKey(p.fallback),
          previousFallback: p.previousFallback === null ? undefined : curveKey(p.previousFallback),
          nextKeyId: keyId(p.nextKeyId),
        },
        random,
      );
    } catch (cause) {
      throw new RatchetError('bad-pickle', 'Olm account pickle has an invalid payload', { cause });
    }
  }

  #assertLive(): void {
    if (this.#freed) throw new TypeError('this Account has been freed');
  }

  /** Zeroes every private key this account holds; it cannot be used afterwards. */
  free(): void {
    this.#freed = true;
    for (const key of [this.#edSecret, this.#curvePrivate, this.#fallback?.privateKey])
      dropKey(key);
    dropKey(this.#previousFallback?.privateKey);
    for (const key of this.#oneTimeKeys) dropKey(key.privateKey);
    this.#oneTimeKeys = [];
    this.#fallback = undefined;
    this.#previousFallback = undefined;
  }

  /** Only public facts: never private keys. */
  toJSON(): { identityKeys: IdentityKeys } {
    return { identityKeys: this.identityKeys() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const { ed25519, curve25519 } = this.identityKeys();
    return `Account { ed25519: '${ed25519}', curve25519: '${curve25519}' }`;
  }
}
