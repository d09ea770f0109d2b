/**
 * The Olm double ratchet: root key, one sending chain, up to five receiving chains and a bounded
 * store of skipped message keys (Olm spec, "Sending normal messages" and "Receiving messages",
 * https://spec.matrix.org/v1.19/olm-megolm/olm/#sending-normal-messages).
 *
 * Limits follow libolm (ratchet.cpp) and vodozemac: at most 5 receiver chains and 40 skipped
 * message keys are kept (the oldest is dropped first), and a message may skip at most 2000 keys
 * in a chain. Decryption works on copies and commits only after the MAC and padding check out, so
 * a rejected message leaves the state exactly as it was.
 */
import {
  CipherKeysBuffer,
  decryptCbc,
  encryptCbc,
  macMatches,
  zeroize,
  zeroizeKeys,
} from '../cipher.ts';
import { RatchetError } from '../errors.ts';
import { type RandomSource, randomBytes } from '../random.ts';
import { curveAgreement, curvePublicKey, forgetKey } from './curve.ts';
import {
  advanceChain,
  advanceChainInto,
  advanceRootKey,
  deriveMessageKeysInto,
  writeMessageMac,
} from './kdf.ts';
import { decodeNormalMessage, encodeNormalMessage, MAC_LENGTH } from './messages.ts';

/** Receiver chains kept (libolm MAX_RECEIVER_CHAINS). */
export const MAX_RECEIVER_CHAINS = 5;
/** Skipped message keys kept (libolm MAX_SKIPPED_MESSAGE_KEYS). */
export const MAX_SKIPPED_MESSAGE_KEYS = 40;
/** Largest forward jump in one chain (libolm MAX_MESSAGE_GAP). */
export const MAX_MESSAGE_GAP = 2000;
/** The sending chain's index stays a uint32: it never moves past 2^32 − 1. */
const MAX_SENDER_INDEX = 0xffffffff;

interface SenderChain {
  readonly ratchetPrivate: Uint8Array;
  readonly ratchetPublic: Uint8Array;
  chainKey: Uint8Array;
  index: number;
}

interface ReceiverChain {
  readonly ratchetKey: Uint8Array;
  chainKey: Uint8Array;
  index: number;
}

interface SkippedKey {
  readonly ratchetKey: Uint8Array;
  readonly index: number;
  readonly messageKey: Uint8Array;
}

/** The ratchet's state as plain data (byte strings as arrays) for pickling. */
export interface RatchetSnapshot {
  readonly rootKey: Uint8Array;
  readonly sender?: { ratchetPrivate: Uint8Array; chainKey: Uint8Array; index: number };
  readonly receivers: ReadonlyArray<{
    ratchetKey: Uint8Array;
    chainKey: Uint8Array;
    index: number;
  }>;
  readonly skipped: ReadonlyArray<{
    ratchetKey: Uint8Array;
    index: number;
    messageKey: Uint8Array;
  }>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// The message keys of `sealMessage` and `openMessage`, one reused buffer each: both derive,
// use and wipe them before returning (also when they throw), and neither calls out to code
// that could re-enter them.
const SEAL_KEYS = new CipherKeysBuffer();
const OPEN_KEYS = new CipherKeysBuffer();
// The message key M_i,j of `encrypt` and `decrypt`, the advanced chain key C_i,j+1 of `decrypt`
// (copied into the chain only once the message has passed) and the MAC `openMessage` expects:
// reused, wiped before each of those calls returns, also when it throws.
const MESSAGE_KEY = new Uint8Array(32);
const NEXT_CHAIN_KEY = new Uint8Array(32);
const EXPECTED_MAC = new Uint8Array(MAC_LENGTH);

/** True when every reused buffer above holds zeros (for the tests: nothing stays after a call). */
export function reusedKeysAreWiped(): boolean {
  const buffers = [
    SEAL_KEYS.aesKey,
    SEAL_KEYS.macKey,
    SEAL_KEYS.iv,
    OPEN_KEYS.aesKey,
    OPEN_KEYS.macKey,
    OPEN_KEYS.iv,
    MESSAGE_KEY,
    NEXT_CHAIN_KEY,
    EXPECTED_MAC,
  ];
  return buffers.every((buffer) => buffer.every((byte) => byte === 0));
}

/**
 * Encrypts with one message key and frames a normal message: ratchet key, index, ciphertext, MAC.
 * The result is a view of `into` when given and large enough, otherwise an array of its own.
 */
function sealMessage(
  key: Uint8Array,
  ratchetPublic: Uint8Array,
  index: number,
  plaintext: Uint8Array,
  into: Uint8Array | undefined,
): Uint8Array {
  try {
    const keys = deriveMessageKeysInto(key, SEAL_KEYS);
    const ciphertext = encryptCbc(keys, plaintext);
    const { buffer, macOffset } = encodeNormalMessage(ratchetPublic, index, ciphertext, into);
    writeMessageMac(keys.macKey, buffer.subarray(0, macOffset), buffer, macOffset);
    return buffer;
  } finally {
    zeroizeKeys(SEAL_KEYS);
  }
}

/** Checks the truncated MAC (constant time), then decrypts; throws `bad-mac` / `bad-padding`. */
function openMessage(
  key: Uint8Array,
  authenticated: Uint8Array,
  mac: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  try {
    const keys = deriveMessageKeysInto(key, OPEN_KEYS);
    writeMessageMac(keys.macKey, authenticated, EXPECTED_MAC, 0);
    if (!macMatches(EXPECTED_MAC, mac)) {
      throw new RatchetError('bad-mac', 'Olm message authentication failed');
    }
    return decryptCbc(keys, ciphertext);
  } finally {
    zeroizeKeys(OPEN_KEYS);
    EXPECTED_MAC.fill(0);
  }
}

const NO_SKIPPED: readonly SkippedKey[] = Object.freeze([]);

/** Derives the chain forward from (chainKey, index) to `target`, collecting the skipped keys. */
function walkChain(
  ratchetKey: Uint8Array,
  chainKey: Uint8Array,
  index: number,
  target: number,
): { chainKey: Uint8Array; skipped: readonly SkippedKey[] } {
  // The common case: the message is the next one in its chain.
  if (index >= target) return { chainKey, skipped: NO_SKIPPED };
  const skipped: SkippedKey[] = [];
  let current = chainKey;
  for (let i = index; i < target; i++) {
    const step = advanceChain(current);
    // Only the newest MAX_SKIPPED_MESSAGE_KEYS could survive insertion; the rest are discarded.
    if (target - i <= MAX_SKIPPED_MESSAGE_KEYS) {
      skipped.push({ ratchetKey, index: i, messageKey: step.messageKey });
    } else {
      step.messageKey.fill(0);
    }
    if (current !== chainKey) current.fill(0);
    current = step.nextChainKey;
  }
  return { chainKey: current, skipped };
}

/**
 * A sender chain's ratchet private key T_i is used for its public key and for one agreement per
 * new ratchet key received, so its OpenSSL key object is kept (`curvePublicKey(…, true)`) for as
 * long as the chain lives; this forgets and zeroes it when the chain is dropped.
 */
function dropRatchetKey(ratchetPrivate: Uint8Array): void {
  forgetKey(ratchetPrivate);
  ratchetPrivate.fill(0);
}

/** One party's double-ratchet state. */
export class DoubleRatchet {
  #rootKey: Uint8Array;
  #sender: SenderChain | undefined;
  #receivers: ReceiverChain[];
  #skipped: SkippedKey[];

  private constructor(
    rootKey: Uint8Array,
    sender: SenderChain | undefined,
    receivers: ReceiverChain[],
    skipped: SkippedKey[],
  ) {
    this.#rootKey = rootKey;
    this.#sender = sender;
    this.#receivers = receivers;
    this.#skipped = skipped;
  }

  /** Alice's side after the triple DH: she sends on C0,0 with her ratchet key T0. */
  static asAlice(
    rootKey: Uint8Array,
    chainKey: Uint8Array,
    ratchetPrivate: Uint8Array,
  ): DoubleRatchet {
    const sender = {
      ratchetPrivate,
      ratchetPublic: curvePublicKey(ratchetPrivate, true),
      chainKey,
      index: 0,
    };
    return new DoubleRatchet(rootKey, sender, [], []);
  }

  /** Bob's side: he receives on C0,0 under Alice's ratchet key T0 and has no sending chain yet. */
  static asBob(
    rootKey: Uint8Array,
    chainKey: Uint8Array,
    theirRatchetKey: Uint8Array,
  ): DoubleRatchet {
    return new DoubleRatchet(
      rootKey,
      undefined,
      [{ ratchetKey: theirRatchetKey, chainKey, index: 0 }],
      [],
    );
  }

  /** Random bytes the next `encrypt` consumes: a new ratchet key when no sending chain exists. */
  encryptRandomLength(): number {
    return this.#sender === undefined ? 32 : 0;
  }

  /**
   * Encrypts one message, ratcheting first if needed; returns the encoded normal message. It is
   * an array of its own unless the caller lends a buffer as `into` (large enough for the
   * message): then it is a view of `into`'s start, valid until the caller next writes there.
   */
  encrypt(plaintext: Uint8Array, random: RandomSource, into?: Uint8Array): Uint8Array {
    let sender = this.#sender;
    if (sender === undefined) {
      // "If the chain key doesn't exist then a new ratchet key Ti is generated and a new root key
      // Ri and chain key Ci,0 are computed using Ri−1, Ti−1 and Ti."
      const newest = this.#receivers[0];
      if (newest === undefined)
        throw new RatchetError('session-mismatch', 'session has no chain to ratchet from');
      const ratchetPrivate = randomBytes(random, 32);
      const ratchetPublic = curvePublicKey(ratchetPrivate, true);
      let secret: Uint8Array;
      try {
        secret = curveAgreement(ratchetPrivate, newest.ratchetKey);
      } catch (error) {
        dropRatchetKey(ratchetPrivate);
        throw error;
      }
      const next = advanceRootKey(this.#rootKey, secret);
      zeroize(secret, this.#rootKey);
      this.#rootKey = next.rootKey;
      sender = { ratchetPrivate, ratchetPublic, chainKey: next.chainKey, index: 0 };
      this.#sender = sender;
    }
    const index = sender.index;
    // The index is a uint32 on the wire and in pickles: a chain sends 0 … 2^32 − 2 and then
    // refuses, before touching any state (as Megolm's ratchet does), instead of moving on to an
    // index no decoder or pickle reader accepts. A message from the peer starts a fresh chain.
    if (index >= MAX_SENDER_INDEX) {
      throw new RatchetError('session-exhausted', 'Olm sending chain exhausted at 2^32-1', {
        context: { index },
      });
    }
    try {
      // C_i,j+1 overwrites C_i,j in place (the old key is gone with it).
      advanceChainInto(sender.chainKey, MESSAGE_KEY, sender.chainKey);
      sender.index += 1;
      return sealMessage(MESSAGE_KEY, sender.ratchetPublic, index, plaintext, into);
    } finally {
      MESSAGE_KEY.fill(0);
    }
  }

  /** Decrypts an encoded normal message; on any failure the state is unchanged. */
  decrypt(encoded: Uint8Array): Uint8Array {
    const message = decodeNormalMessage(encoded);
    const { ratchetKey, counter } = message;
    const chain = this.#receiverFor(ratchetKey);

    if (chain !== undefined && counter < chain.index) {
      // "If the j of the message is less than the current chain index on the receiver then the
      // message may only be decrypted if the receiver has stored a copy of the message key."
      const position = this.#skipped.findIndex(
        (skipped) => skipped.index === counter && sameBytes(skipped.ratchetKey, ratchetKey),
      );
      const skipped = this.#skipped[position];
      if (skipped === undefined) {
        throw new RatchetError('unknown-message-index', 'message key already used or discarded', {
          context: { index: counter },
        });
      }
      const plaintext = openMessage(
        skipped.messageKey,
        message.authenticated,
        message.mac,
        message.ciphertext,
      );
      skipped.messageKey.fill(0);
      this.#skipped.splice(position, 1);
      return plaintext;
    }

    const start = chain?.index ?? 0;
    if (counter - start > MAX_MESSAGE_GAP) {
      throw new RatchetError('too-many-skipped-keys', 'message skips too many keys', {
        context: { gap: counter - start, limit: MAX_MESSAGE_GAP },
      });
    }

    let newRoot: Uint8Array | undefined;
    let chainKey: Uint8Array;
    if (chain === undefined) {
      // A new ratchet key from the other side: derive Ri, Ci,0 from our current ratchet key.
      const sender = this.#sender;
      if (sender === undefined) {
        throw new RatchetError(
          'bad-message-format',
          'unexpected ratchet key before our first reply',
        );
      }
      const secret = curveAgreement(sender.ratchetPrivate, ratchetKey);
      const next = advanceRootKey(this.#rootKey, secret);
      secret.fill(0);
      newRoot = next.rootKey;
      chainKey = next.chainKey;
    } else {
      chainKey = chain.chainKey;
    }

    const walked = walkChain(ratchetKey, chainKey, start, counter);
    let plaintext: Uint8Array;
    try {
      advanceChainInto(walked.chainKey, MESSAGE_KEY, NEXT_CHAIN_KEY);
      plaintext = openMessage(MESSAGE_KEY, message.authenticated, message.mac, message.ciphertext);
    } catch (error) {
      zeroize(newRoot, walked.chainKey === chainKey ? undefined : walked.chainKey);
      if (chain === undefined) chainKey.fill(0);
      for (const skipped of walked.skipped) skipped.messageKey.fill(0);
      NEXT_CHAIN_KEY.fill(0);
      throw error;
    } finally {
      MESSAGE_KEY.fill(0);
    }

    // Commit. "If the decryption succeeds the receiver updates the chain key for Ti with Ci,j+1
    // and stores the message keys that were skipped."
    if (walked.chainKey !== chainKey) walked.chainKey.fill(0);
    if (chain === undefined) {
      // "If the receiver created a new receiver chain then they discard their current sender chain."
      chainKey.fill(0);
      this.#rootKey.fill(0);
      this.#rootKey = newRoot as Uint8Array;
      // Both copied: the ratchet key is a view of the caller's (or the shared inbound) buffer.
      this.#receivers.unshift({
        ratchetKey: Uint8Array.from(ratchetKey),
        chainKey: Uint8Array.from(NEXT_CHAIN_KEY),
        index: counter + 1,
      });
      if (this.#receivers.length > MAX_RECEIVER_CHAINS) {
        for (const dropped of this.#receivers.splice(MAX_RECEIVER_CHAINS)) dropped.chainKey.fill(0);
      }
      if (this.#sender !== undefined) {
        this.#sender.chainKey.fill(0);
        dropRatchetKey(this.#sender.ratchetPrivate);
      }
      this.#sender = undefined;
    } else {
      // C_i,j+1 overwrites the stored C_i,j in place.
      chain.chainKey.set(NEXT_CHAIN_KEY);
      chain.index = counter + 1;
    }
    NEXT_CHAIN_KEY.fill(0);
    for (const skipped of walked.skipped) {
      this.#skipped.unshift({ ...skipped, ratchetKey: Uint8Array.from(skipped.ratchetKey) });
    }
    if (this.#skipped.length > MAX_SKIPPED_MESSAGE_KEYS) {
      for (const dropped of this.#skipped.splice(MAX_SKIPPED_MESSAGE_KEYS)) {
        dropped.messageKey.fill(0);
      }
    }
    return plaintext;
  }

  /** The receiver chain of `ratchetKey`, if any (a loop: a `find` callback is an allocation per message). */
  #receiverFor(ratchetKey: Uint8Array): ReceiverChain | undefined {
    const receivers = this.#receivers;
    for (let i = 0; i < receivers.length; i++) {
      const chain = receivers[i] as ReceiverChain;
      if (sameBytes(chain.ratchetKey, ratchetKey)) return chain;
    }
    return undefined;
  }

  /** A deep copy of the state for pickling. */
  snapshot(): RatchetSnapshot {
    const sender = this.#sender;
    return {
      rootKey: Uint8Array.from(this.#rootKey),
      ...(sender === undefined
        ? {}
        : {
            sender: {
              ratchetPrivate: Uint8Array.from(sender.ratchetPrivate),
              chainKey: Uint8Array.from(sender.chainKey),
              index: sender.index,
            },
          }),
      receivers: this.#receivers.map((chain) => ({
        ratchetKey: Uint8Array.from(chain.ratchetKey),
        chainKey: Uint8Array.from(chain.chainKey),
        index: chain.index,
      })),
      skipped: this.#skipped.map((skipped) => ({
        ratchetKey: Uint8Array.from(skipped.ratchetKey),
        index: skipped.index,
        messageKey: Uint8Array.from(skipped.messageKey),
      })),
    };
  }

  /** Rebuilds a ratchet from a snapshot (the snapshot's buffers are taken over). */
  static restore(snapshot: RatchetSnapshot): DoubleRatchet {
    const sender = snapshot.sender;
    return new DoubleRatchet(
      snapshot.rootKey,
      sender === undefined
        ? undefined
        : {
            ratchetPrivate: sender.ratchetPrivate,
            ratchetPublic: curvePublicKey(sender.ratchetPrivate, true),
            chainKey: sender.chainKey,
            index: sender.index,
          },
      snapshot.receivers.map((chain) => ({ ...chain })),
      snapshot.skipped.map((skipped) => ({ ...skipped })),
    );
  }

  /** Overwrites every secret with zeros; the ratchet is unusable afterwards. */
  zeroize(): void {
    this.#rootKey.fill(0);
    if (this.#sender !== undefined) {
      this.#sender.chainKey.fill(0);
      dropRatchetKey(this.#sender.ratchetPrivate);
    }
    for (const chain of this.#receivers) chain.chainKey.fill(0);
    for (const skipped of this.#skipped) skipped.messageKey.fill(0);
    this.#sender = undefined;
    this.#receivers = [];
    this.#skipped = [];
  }
}
