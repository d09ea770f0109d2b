/**
 * The inbound Megolm session: a receiver's copy of a sender's ratchet and public key.
 *
 * Spec: https://spec.matrix.org/v1.19/olm-megolm/megolm/#sharing-session-data and
 * "Advancing the ratchet": the earliest known ratchet is kept so any later index can be
 * decrypted; the latest used ratchet is cached so in-order decryption costs one step.
 */
import { decodeBase64Into, encodeBase64 } from '../base64.ts';
import {
  CipherKeysBuffer,
  decryptCbc,
  macMatchesAt,
  truncatedMacInto,
  zeroize,
  zeroizeKeys,
} from '../cipher.ts';
import { RatchetError } from '../errors.ts';
import { LibolmWriter } from '../libolm-pickle-writer.ts';
import { INBOUND_MESSAGE_SCRATCH } from '../message-scratch.ts';
import { openLibolmPickle, openPickle, sealLibolmPickle, sealPickle } from '../pickle.ts';
import { type RandomSource, systemRandom } from '../random.ts';
import { LibolmReader } from './libolm-pickle.ts';
import { MAC_LENGTH, type MegolmFieldOffsets, readMessage } from './message.ts';
import { field, inspectSymbol, pickleFields } from './pickling.ts';
import { MegolmRatchet, RATCHET_LENGTH } from './ratchet.ts';
import {
  encodeExportedKey,
  parseExportedKey,
  parseSessionKey,
  type SessionKeyParts,
} from './session-keys.ts';
import { type Verifier, verifierFor } from './signing.ts';

// The message keys of `decrypt`, derived, used and wiped within each call.
const DECRYPT_KEYS = new CipherKeysBuffer();
// Where `decrypt` advances a copy of a stored ratchet to an index beyond it (wiped after each
// call), and where it reads a message's field offsets (public values).
const WORK_RATCHET = new MegolmRatchet(new Uint8Array(RATCHET_LENGTH), 0);
const FIELDS: MegolmFieldOffsets = {
  messageIndex: 0,
  ciphertextStart: 0,
  ciphertextEnd: 0,
  bodyEnd: 0,
};
// The MAC `decrypt` expects (wiped after each call: for a forged message it is what the forger lacks).
const EXPECTED_MAC = new Uint8Array(MAC_LENGTH);

/**
 * True when the work ratchet, the message keys and the expected MAC hold zeros (for the tests:
 * no secret stays in them after a call).
 */
export function reusedSecretsAreWiped(): boolean {
  const buffers = [
    WORK_RATCHET.data,
    DECRYPT_KEYS.aesKey,
    DECRYPT_KEYS.macKey,
    DECRYPT_KEYS.iv,
    EXPECTED_MAC,
  ];
  return buffers.every((buffer) => buffer.every((byte) => byte === 0));
}

const PICKLE_KIND = 'weft.megolm.inbound';
const PICKLE_VERSION = 1;

/** A decrypted Megolm message. */
export interface DecryptedGroupMessage {
  readonly plaintext: Uint8Array;
  readonly messageIndex: number;
}

interface State {
  initial: MegolmRatchet;
  latest: MegolmRatchet;
  readonly signingKey: Uint8Array;
  readonly verifier: Verifier;
  verified: boolean;
}
let restoring: State | undefined;

/** Decrypts one sender's Megolm messages from the first index it was given onwards. */
export class InboundGroupSession {
  readonly #state: State;
  #freed = false;

  /** Use `fromSessionKey`, `importSession` or `fromPickle`. */
  private constructor() {
    if (restoring === undefined) throw new TypeError('use InboundGroupSession.fromSessionKey');
    this.#state = restoring;
    restoring = undefined;
  }

  static #restore(parts: SessionKeyParts, verifier: Verifier): InboundGroupSession {
    restoring = {
      initial: parts.ratchet,
      latest: parts.ratchet.clone(),
      signingKey: parts.signingKey,
      verifier,
      verified: parts.signed,
    };
    try {
      return new InboundGroupSession();
    } finally {
      restoring = undefined;
    }
  }

  /**
   * From a signed session key (sharing format v2, e.g. `m.room_key.session_key`); the signature
   * is checked against the key's own K_pub. Throws `bad-base64`, `unsupported-version`, `bad-key`
   * or `bad-signature`.
   */
  static fromSessionKey(sessionKey: string): InboundGroupSession {
    const parts = parseSessionKey(sessionKey, verifierFor);
    return InboundGroupSession.#restore(parts, parts.verifier);
  }

  /** From an exported key (export format v1, e.g. from key backup or `exportAt`). */
  static importSession(exportedKey: string): InboundGroupSession {
    const parts = parseExportedKey(exportedKey);
    return InboundGroupSession.#restore(parts, verifierFor(parts.signingKey));
  }

  #checkLive(): void {
    if (this.#freed) throw new Error('InboundGroupSession was freed');
  }

  /** The session ID: the sender's unpadded base64 Ed25519 public key. */
  sessionId(): string {
    return encodeBase64(this.#state.signingKey);
  }

  /** The lowest message index this session can decrypt. */
  firstKnownIndex(): number {
    return this.#state.initial.counter;
  }

  /**
   * True once the session is known to be the sender's: it came from a signed session key, or a
   * message signed by its key has decrypted (as libolm's `signing_key_verified`).
   */
  isVerified(): boolean {
    return this.#state.verified;
  }

  /**
   * Authenticates and decrypts a base64 Megolm message: signature first, then the index against
   * the first known one, then the MAC, then AES-CBC. On any failure the session is unchanged.
   * Replays are not detected here (the spec's "Message Replays"): use `ReplayGuard` with the
   * returned `messageIndex`. The plaintext is a view of the decrypted blocks: its `buffer` may
   * go on with 1..16 bytes of (public) padding.
   */
  decrypt(message: string): DecryptedGroupMessage {
    this.#checkLive();
    if (typeof message !== 'string') throw new TypeError('message must be a base64 string');
    const state = this.#state;
    // Public bytes in the reused inbound buffer, read before this call returns.
    const bytes = decodeBase64Into(message, INBOUND_MESSAGE_SCRATCH);
    readMessage(bytes, FIELDS);
    const index = FIELDS.messageIndex;
    const bodyEnd = FIELDS.bodyEnd;
    const signatureStart = bodyEnd + MAC_LENGTH;
    if (!state.verifier(bytes.subarray(0, signatureStart), bytes.subarray(signatureStart))) {
      throw new RatchetError('bad-signature', 'Megolm message signature does not verify', {
        context: { messageIndex: index },
      });
    }
    if (index < state.initial.counter) {
      throw new RatchetError('unknown-message-index', 'message precedes the first known index', {
        context: { messageIndex: index, firstKnownIndex: state.initial.counter },
      });
    }
    // The message's ratchet: the latest one itself when the index is its own (read only), else
    // the reused work ratchet advanced from the latest or the initial one.
    const latest = state.latest;
    const fromLatest = index >= latest.counter;
    let ratchet = latest;
    try {
      if (index !== latest.counter) {
        ratchet = WORK_RATCHET;
        ratchet.copyFrom(fromLatest ? latest : state.initial);
        ratchet.advanceTo(index);
      }
      const keys = ratchet.messageKeysInto(DECRYPT_KEYS);
      truncatedMacInto(keys.macKey, bytes.subarray(0, bodyEnd), EXPECTED_MAC, 0, MAC_LENGTH);
      if (!macMatchesAt(EXPECTED_MAC, bytes, bodyEnd, MAC_LENGTH)) {
        throw new RatchetError('bad-mac', 'Megolm message MAC does not match', {
          context: { messageIndex: index },
        });
      }
      const plaintext = decryptCbc(
        keys,
        bytes.subarray(FIELDS.ciphertextStart, FIELDS.ciphertextEnd),
      );
      // Commit only after success, so a forged message cannot move the cached ratchet.
      if (fromLatest && ratchet !== latest) latest.copyFrom(ratchet);
      state.verified = true;
      return { plaintext, messageIndex: index };
    } finally {
      // Nothing was committed on a throw: every throw above happens before the commit.
      zeroizeKeys(DECRYPT_KEYS);
      EXPECTED_MAC.fill(0);
      if (ratchet === WORK_RATCHET) WORK_RATCHET.zeroize();
    }
  }

  /**
   * The session exported at `messageIndex` (export format v1), or `undefined` when that index is
   * before the first known one and so cannot be derived.
   */
  exportAt(messageIndex: number): string | undefined {
    this.#checkLive();
    if (!Number.isInteger(messageIndex) || messageIndex < 0 || messageIndex > 0xffffffff) {
      throw new RangeError('messageIndex must be an unsigned 32-bit integer');
    }
    const state = this.#state;
    if (messageIndex < state.initial.counter) return undefined;
    const base = messageIndex >= state.latest.counter ? state.latest : state.initial;
    const ratchet = base.clone();
    ratchet.advanceTo(messageIndex);
    const bytes = encodeExportedKey(ratchet, state.signingKey);
    ratchet.zeroize();
    const text = encodeBase64(bytes);
    bytes.fill(0);
    return text;
  }

  /**
   * The session in libolm's own pickle format (`olm_pickle_inbound_group_session`, version 2:
   * initial ratchet, latest ratchet, Ed25519 public key, verified flag), for python-olm's
   * `InboundGroupSession.from_pickle`, under `pickleKey` (bytes, or a string taken as UTF-8).
   */
  toLibolmPickle(pickleKey: Uint8Array | string): string {
    this.#checkLive();
    const state = this.#state;
    const body = new LibolmWriter()
      .u32(2)
      .megolmRatchet(state.initial)
      .megolmRatchet(state.latest)
      .bytes(state.signingKey)
      .bool(state.verified)
      .finish();
    try {
      return sealLibolmPickle(body, pickleKey);
    } finally {
      body.fill(0);
    }
  }

  /** Serialises the session into an encrypted pickle under a 32-byte `pickleKey`. */
  pickle(pickleKey: Uint8Array, random: RandomSource = systemRandom): string {
    this.#checkLive();
    const state = this.#state;
    const payload = {
      initialRatchet: encodeBase64(state.initial.data),
      initialIndex: state.initial.counter,
      latestRatchet: encodeBase64(state.latest.data),
      latestIndex: state.latest.counter,
      signingKey: encodeBase64(state.signingKey),
      verified: state.verified,
    };
    return sealPickle(PICKLE_KIND, PICKLE_VERSION, payload, pickleKey, random);
  }

  /** Restores a session from `pickle()` output; throws `bad-pickle` on a wrong key or data. */
  static fromPickle(pickle: string, pickleKey: Uint8Array): InboundGroupSession {
    const fields = pickleFields(openPickle(PICKLE_KIND, pickle, pickleKey), PICKLE_VERSION);
    const initial = new MegolmRatchet(
      field.bytes(fields, 'initialRatchet', RATCHET_LENGTH),
      field.index(fields, 'initialIndex'),
    );
    const latest = new MegolmRatchet(
      field.bytes(fields, 'latestRatchet', RATCHET_LENGTH),
      field.index(fields, 'latestIndex'),
    );
    if (latest.counter < initial.counter) {
      throw new RatchetError('bad-pickle', 'latest ratchet precedes the initial one', {
        context: { field: 'latestIndex' },
      });
    }
    const signingKey = field.bytes(fields, 'signingKey', 32);
    restoring = {
      initial,
      latest,
      signingKey,
      verifier: verifierFor(signingKey),
      verified: field.boolean(fields, 'verified'),
    };
    try {
      return new InboundGroupSession();
    } finally {
      restoring = undefined;
    }
  }

  /**
   * Restores a session pickled by libolm (`olm_pickle_inbound_group_session`, pickle versions 1
   * and 2: initial ratchet, latest ratchet, Ed25519 public key, and from version 2 the
   * verified flag) under libolm's pickle key (`key`: bytes, or a string taken as UTF-8).
   * Throws `bad-pickle` (wrong key, corruption) or `unsupported-version`.
   */
  static fromLibolmPickle(pickle: string, key: string | Uint8Array): InboundGroupSession {
    const raw = openLibolmPickle(pickle, key);
    try {
      const reader = new LibolmReader(raw);
      const version = reader.uint32();
      if (version !== 1 && version !== 2) {
        throw new RatchetError('unsupported-version', 'unknown libolm inbound pickle version', {
          context: { expected: 2, got: version },
        });
      }
      const initial = reader.ratchet();
      const latest = reader.ratchet();
      const signingKey = reader.bytes(32);
      // Version 1 predates the flag; libolm then treats the session as verified.
      const verified = version === 1 ? true : reader.bool();
      reader.end();
      if (latest.counter < initial.counter) {
        throw new RatchetError('bad-pickle', 'latest ratchet precedes the initial one', {
          context: { field: 'latest_ratchet' },
        });
      }
      restoring = { initial, latest, signingKey, verifier: verifierFor(signingKey), verified };
      try {
        return new InboundGroupSession();
      } finally {
        restoring = undefined;
      }
    } finally {
      zeroize(raw);
    }
  }

  /** Overwrites both stored ratchets; the session is unusable afterwards. */
  free(): void {
    this.#freed = true;
    this.#state.initial.zeroize();
    this.#state.latest.zeroize();
  }

  /** Only public facts: session ID, first known index, verification. */
  toJSON(): { sessionId: string; firstKnownIndex: number; verified: boolean } {
    return {
      sessionId: this.sessionId(),
      firstKnownIndex: this.firstKnownIndex(),
      verified: this.isVerified(),
    };
  }

  /** Node's `util.inspect` shows the same public facts as `toJSON`. */
  [inspectSymbol](): string {
    return `InboundGroupSession ${JSON.stringify(this.toJSON())}`;
  }
}
