/**
 * The outbound Megolm session: the sender's ratchet and Ed25519 key pair.
 *
 * Spec: https://spec.matrix.org/v1.19/olm-megolm/megolm/#the-megolm-protocol
 * (session setup, sharing, message encryption, advancing the ratchet).
 */
import { encodeBase64 } from '../base64.ts';
import {
  CipherKeysBuffer,
  encryptCbc,
  macMatches,
  truncatedMacInto,
  zeroize,
  zeroizeKeys,
} from '../cipher.ts';
import { expandSeed } from '../ed25519-expanded.ts';
import { RatchetError } from '../errors.ts';
import { LibolmWriter } from '../libolm-pickle-writer.ts';
import { MESSAGE_SCRATCH } from '../message-scratch.ts';
import { openLibolmPickle, openPickle, sealLibolmPickle, sealPickle } from '../pickle.ts';
import { type RandomSource, randomBytes, systemRandom } from '../random.ts';
import { LibolmReader } from './libolm-pickle.ts';
import { encodeMessage, MAC_LENGTH } from './message.ts';
import { asPlaintext, field, inspectSymbol, pickleFields } from './pickling.ts';
import { MAX_INDEX, MegolmRatchet, RATCHET_LENGTH } from './ratchet.ts';
import { encodeSessionKey } from './session-keys.ts';
import { type SigningKey, signingKeyFromExpanded, signingKeyFromSeed } from './signing.ts';

// The message keys of `encrypt`, derived, used and wiped within each call.
const ENCRYPT_KEYS = new CipherKeysBuffer();

/** True when the reused message keys hold zeros (for the tests: nothing stays after a call). */
export function reusedKeysAreWiped(): boolean {
  const keys = [ENCRYPT_KEYS.aesKey, ENCRYPT_KEYS.macKey, ENCRYPT_KEYS.iv];
  return keys.every((key) => key.every((byte) => byte === 0));
}

const PICKLE_KIND = 'weft.megolm.outbound';
const PICKLE_VERSION = 1;
// libolm draws the ratchet and the Ed25519 seed in one call, ratchet first
// (olm_init_outbound_group_session_random_length = 128 + 32), so one recorded buffer replays it.
const RANDOM_LENGTH = RATCHET_LENGTH + 32;

interface State {
  readonly ratchet: MegolmRatchet;
  readonly signing: SigningKey;
}

// Lets the static restorers hand state to the constructor without a public parameter.
let restoring: State | undefined;

/** An outbound Megolm session: encrypts and signs messages and shares its session key. */
export class GroupSession {
  readonly #ratchet: MegolmRatchet;
  readonly #signing: SigningKey;
  #freed = false;

  /**
   * A fresh session: 1024 random bits of ratchet at index 0 and a new Ed25519 key pair
   * ("Session setup"). `random` defaults to the platform CSPRNG.
   */
  constructor(random: RandomSource = systemRandom) {
    if (restoring !== undefined) {
      this.#ratchet = restoring.ratchet;
      this.#signing = restoring.signing;
      restoring = undefined;
      return;
    }
    if (typeof random !== 'function') throw new TypeError('random must be a function');
    const bytes = randomBytes(random, RANDOM_LENGTH);
    this.#ratchet = new MegolmRatchet(bytes.slice(0, RATCHET_LENGTH), 0);
    this.#signing = signingKeyFromSeed(bytes.slice(RATCHET_LENGTH));
    bytes.fill(0);
  }

  /** Same as `new GroupSession(random)`. */
  static create(random: RandomSource = systemRandom): GroupSession {
    return new GroupSession(random);
  }

  static #restore(state: State): GroupSession {
    restoring = state;
    try {
      return new GroupSession();
    } finally {
      restoring = undefined;
    }
  }

  /** The session ID: the unpadded base64 Ed25519 public key K_pub. */
  sessionId(): string {
    return encodeBase64(this.#signing.publicKey);
  }

  /** The index the next message will carry. */
  messageIndex(): number {
    return this.#ratchet.counter;
  }

  #checkLive(): void {
    if (this.#freed) throw new Error('GroupSession was freed');
  }

  /** The signed session key (sharing format v2) at the current index, unpadded base64. */
  sessionKey(): string {
    this.#checkLive();
    const bytes = encodeSessionKey(this.#ratchet, this.#signing.publicKey, (m) =>
      this.#signing.sign(m),
    );
    const text = encodeBase64(bytes);
    bytes.fill(0);
    return text;
  }

  /**
   * Encrypts one message ("Message encryption"): keys from HKDF(R_i, "MEGOLM_KEYS"), AES-256-CBC,
   * the 8-byte HMAC over version + body, the Ed25519 signature over all of that; then R advances.
   * Returns the message as unpadded base64.
   */
  encrypt(plaintext: string | Uint8Array): string {
    this.#checkLive();
    // The ratchet cannot advance past 2^32−1 (it never wraps, unlike libolm), so a message at
    // that index could not be followed by a ratchet step: the session ends one index earlier.
    // A pickled session at 2^32−1 therefore stays exhausted instead of reusing an index.
    if (this.#ratchet.counter === MAX_INDEX) {
      throw new RatchetError('session-exhausted', 'Megolm session exhausted; start a new session', {
        context: { messageIndex: this.#ratchet.counter },
      });
    }
    const { bytes: input, owned } = asPlaintext(plaintext);
    let bytes: Uint8Array;
    let bodyEnd: number;
    try {
      const keys = this.#ratchet.messageKeysInto(ENCRYPT_KEYS);
      const ciphertext = encryptCbc(keys, input);
      ({ bytes, bodyEnd } = encodeMessage(this.#ratchet.counter, ciphertext, MESSAGE_SCRATCH));
      truncatedMacInto(keys.macKey, bytes.subarray(0, bodyEnd), bytes, bodyEnd, MAC_LENGTH);
    } finally {
      // A string's bytes are a transient shared buffer (`asPlaintext`): wipe it always, and the
      // reused message keys with it (also when deriving them threw part-way).
      if (owned) zeroize(input);
      zeroizeKeys(ENCRYPT_KEYS);
    }
    bytes.set(this.#signing.sign(bytes.subarray(0, bodyEnd + MAC_LENGTH)), bodyEnd + MAC_LENGTH);
    this.#ratchet.advance();
    return encodeBase64(bytes);
  }

  /**
   * The session in libolm's own pickle format (`olm_pickle_outbound_group_session`, version 1:
   * ratchet, counter, Ed25519 public key, 64-byte expanded private key), for python-olm's
   * `OutboundGroupSession.from_pickle`, under `pickleKey` (bytes, or a string taken as UTF-8).
   */
  toLibolmPickle(pickleKey: Uint8Array | string): string {
    this.#checkLive();
    const signing = this.#signing;
    const expanded =
      signing.form === 'seed' ? expandSeed(signing.secret) : Uint8Array.from(signing.secret);
    const body = new LibolmWriter()
      .u32(1)
      .megolmRatchet(this.#ratchet)
      .bytes(signing.publicKey)
      .bytes(expanded)
      .finish();
    expanded.fill(0);
    try {
      return sealLibolmPickle(body, pickleKey);
    } finally {
      body.fill(0);
    }
  }

  /** Serialises the session into an encrypted pickle under a 32-byte `pickleKey`. */
  pickle(pickleKey: Uint8Array, random: RandomSource = systemRandom): string {
    this.#checkLive();
    const payload = {
      ratchet: encodeBase64(this.#ratchet.data),
      counter: this.#ratchet.counter,
      // Sessions imported from libolm carry the expanded key, which has no seed form.
      [this.#signing.form === 'seed' ? 'seed' : 'expandedKey']: encodeBase64(this.#signing.secret),
    };
    return sealPickle(PICKLE_KIND, PICKLE_VERSION, payload, pickleKey, random);
  }

  /** Restores a session from `pickle()` output; throws `bad-pickle` on a wrong key or data. */
  static fromPickle(pickle: string, pickleKey: Uint8Array): GroupSession {
    const opened = openPickle(PICKLE_KIND, pickle, pickleKey);
    const fields = pickleFields(opened, PICKLE_VERSION);
    const ratchetBytes = field.bytes(fields, 'ratchet', RATCHET_LENGTH);
    const counter = field.index(fields, 'counter');
    const signing =
      'expandedKey' in fields
        ? signingKeyFromExpanded(field.bytes(fields, 'expandedKey', 64))
        : signingKeyFromSeed(field.bytes(fields, 'seed', 32));
    return GroupSession.#restore({ ratchet: new MegolmRatchet(ratchetBytes, counter), signing });
  }

  /**
   * Restores a session pickled by libolm (`olm_pickle_outbound_group_session`, pickle version 1:
   * ratchet, counter, Ed25519 public key, 64-byte expanded private key) under libolm's pickle
   * key (`key`: the bytes, or a string taken as UTF-8 as python-olm and libolm's JS do). Such a
   * session signs on the pure Ed25519 path, since OpenSSL takes seeds, not expanded keys.
   * Throws `bad-pickle` (wrong key, corruption, key pair mismatch) or `unsupported-version`.
   */
  static fromLibolmPickle(pickle: string, key: string | Uint8Array): GroupSession {
    const raw = openLibolmPickle(pickle, key);
    try {
      const reader = new LibolmReader(raw);
      const version = reader.uint32();
      if (version !== 1) {
        throw new RatchetError('unsupported-version', 'unknown libolm outbound pickle version', {
          context: { expected: 1, got: version },
        });
      }
      const ratchet = reader.ratchet();
      const publicKey = reader.bytes(32);
      const signing = signingKeyFromExpanded(reader.bytes(64));
      reader.end();
      if (!macMatches(signing.publicKey, publicKey)) {
        signing.zeroize();
        throw new RatchetError('bad-pickle', 'libolm pickle key pair does not match', {
          context: { field: 'signing_key' },
        });
      }
      return GroupSession.#restore({ ratchet, signing });
    } finally {
      zeroize(raw);
    }
  }

  /** Overwrites the ratchet and signing seed; the session is unusable afterwards. */
  free(): void {
    this.#freed = true;
    this.#ratchet.zeroize();
    this.#signing.zeroize();
  }

  /** Only public facts: the session ID and next index. */
  toJSON(): { sessionId: string; messageIndex: number } {
    return { sessionId: this.sessionId(), messageIndex: this.messageIndex() };
  }

  /** Node's `util.inspect` shows the same public facts as `toJSON`. */
  [inspectSymbol](): string {
    return `GroupSession ${JSON.stringify(this.toJSON())}`;
  }
}
