/**
 * Reading libolm's own pickles (libolm 3.x `olm_unpickle_account` / `olm_unpickle_session`), so
 * accounts and sessions can migrate from libolm to Weft.
 *
 * The envelope is opened by `openLibolmPickle` (`../pickle.ts`, shared with Megolm); this module
 * parses the plaintext. Integers are big-endian uint32, flags one byte. Layouts read here:
 *
 * - Account, version 4: Ed25519 public (32) + expanded private (64); Curve25519 public (32) +
 *   private (32); one-time key count, each {id, published, public, private}; fallback key count
 *   (byte, 0–2), current then previous, same shape; next key ID.
 * - Session, version 1: received flag; Alice's identity key, base key, Bob's one-time key; root
 *   key; sender chains {ratchet public, private, chain key, index}; receiver chains {ratchet key,
 *   chain key, index}; skipped keys {ratchet key, message key, index}.
 *
 * Every length is checked, and every stored public key must match its private key.
 *
 * Writing (`writeLibolmAccount`, `writeLibolmSession`) produces the same layouts, so libolm's
 * `olm_unpickle_*` can take over accounts and sessions from Weft.
 */
import { expandedPublicKey } from '../ed25519-expanded.ts';
import { RatchetError } from '../errors.ts';
import { LibolmWriter } from '../libolm-pickle-writer.ts';
import { curvePublicKey } from './curve.ts';
import type { RatchetSnapshot } from './double-ratchet.ts';

const ACCOUNT_VERSION = 4;
const SESSION_VERSION = 1;

function bad(message: string, cause?: unknown): RatchetError {
  return new RatchetError('bad-pickle', message, cause === undefined ? {} : { cause });
}

/** Bounds-checked big-endian reader over a decrypted pickle. */
class Reader {
  readonly #bytes: Uint8Array;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  take(length: number): Uint8Array {
    if (this.#pos + length > this.#bytes.length) throw bad('libolm pickle is truncated');
    const out = this.#bytes.slice(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }

  u8(): number {
    return this.take(1)[0] as number;
  }

  u32(): number {
    const b = this.take(4);
    return (
      (((b[0] as number) << 24) |
        ((b[1] as number) << 16) |
        ((b[2] as number) << 8) |
        (b[3] as number)) >>>
      0
    );
  }

  bool(): boolean {
    const value = this.u8();
    if (value > 1) throw bad('libolm pickle has an invalid flag');
    return value === 1;
  }

  /** A count of records of `size` bytes, rejected early if the rest cannot hold them. */
  count(size: number, max: number): number {
    const n = this.u32();
    if (n > max || n * size > this.#bytes.length - this.#pos)
      throw bad('libolm pickle has an invalid count');
    return n;
  }

  end(): void {
    if (this.#pos !== this.#bytes.length) throw bad('libolm pickle has trailing bytes');
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** A Curve25519 key pair whose stored public half must match its private half. */
function curvePair(reader: Reader): Uint8Array {
  const publicKey = reader.take(32);
  const privateKey = reader.take(32);
  if (!sameBytes(curvePublicKey(privateKey), publicKey))
    throw bad('libolm pickle has a mismatched key pair');
  return privateKey;
}

function checkVersion(reader: Reader, expected: number): void {
  const version = reader.u32();
  if (version !== expected) {
    throw new RatchetError('unsupported-version', 'unsupported libolm pickle version', {
      context: { expected, got: version },
    });
  }
}

/** One libolm one-time or fallback key. */
export interface LibolmCurveKey {
  readonly id: number;
  readonly published: boolean;
  readonly privateKey: Uint8Array;
}

/** The contents of a libolm account pickle. */
export interface LibolmAccount {
  readonly ed25519Expanded: Uint8Array;
  readonly curve25519Private: Uint8Array;
  readonly oneTimeKeys: LibolmCurveKey[];
  readonly fallback: LibolmCurveKey | undefined;
  readonly previousFallback: LibolmCurveKey | undefined;
  readonly nextKeyId: number;
}

/** Parses a decrypted libolm account pickle (version 4, libolm 3.2). */
export function parseLibolmAccount(bytes: Uint8Array): LibolmAccount {
  const reader = new Reader(bytes);
  checkVersion(reader, ACCOUNT_VERSION);
  const edPublic = reader.take(32);
  const ed25519Expanded = reader.take(64);
  if (!sameBytes(expandedPublicKey(ed25519Expanded), edPublic)) {
    throw bad('libolm pickle has a mismatched Ed25519 key pair');
  }
  const curve25519Private = curvePair(reader);
  const key = (): LibolmCurveKey => {
    const id = reader.u32();
    const published = reader.bool();
    return { id, published, privateKey: curvePair(reader) };
  };
  const oneTimeKeys = Array.from({ length: reader.count(69, 100) }, key);
  const fallbackCount = reader.u8();
  if (fallbackCount > 2) throw bad('libolm pickle has an invalid fallback key count');
  const fallback = fallbackCount >= 1 ? key() : undefined;
  const previousFallback = fallbackCount === 2 ? key() : undefined;
  const nextKeyId = reader.u32();
  reader.end();
  return { ed25519Expanded, curve25519Private, oneTimeKeys, fallback, previousFallback, nextKeyId };
}

/** The contents of a libolm session pickle. */
export interface LibolmSession {
  readonly receivedMessage: boolean;
  readonly aliceIdentityKey: Uint8Array;
  readonly aliceBaseKey: Uint8Array;
  readonly bobOneTimeKey: Uint8Array;
  readonly ratchet: RatchetSnapshot;
}

/** Parses a decrypted libolm session pickle (version 1, libolm 3.x). */
export function parseLibolmSession(bytes: Uint8Array): LibolmSession {
  const reader = new Reader(bytes);
  checkVersion(reader, SESSION_VERSION);
  const receivedMessage = reader.bool();
  const aliceIdentityKey = reader.take(32);
  const aliceBaseKey = reader.take(32);
  const bobOneTimeKey = reader.take(32);
  const rootKey = reader.take(32);
  const senders = Array.from({ length: reader.count(100, 1) }, () => {
    const ratchetPrivate = curvePair(reader);
    return { ratchetPrivate, chainKey: reader.take(32), index: reader.u32() };
  });
  const receivers = Array.from({ length: reader.count(68, 5) }, () => ({
    ratchetKey: reader.take(32),
    chainKey: reader.take(32),
    index: reader.u32(),
  }));
  const skipped = Array.from({ length: reader.count(68, 40) }, () => ({
    ratchetKey: reader.take(32),
    messageKey: reader.take(32),
    index: reader.u32(),
  }));
  reader.end();
  const [sender] = senders;
  return {
    receivedMessage,
    aliceIdentityKey,
    aliceBaseKey,
    bobOneTimeKey,
    ratchet: { rootKey, ...(sender === undefined ? {} : { sender }), receivers, skipped },
  };
}

/** A one-time or fallback key with the public half libolm also stores. */
export interface LibolmCurveKeyPair extends LibolmCurveKey {
  readonly publicKey: Uint8Array;
}

/** What an account pickle holds (`parseLibolmAccount`'s result plus the public halves). */
export interface LibolmAccountState {
  readonly ed25519Public: Uint8Array;
  readonly ed25519Expanded: Uint8Array;
  readonly curve25519Public: Uint8Array;
  readonly curve25519Private: Uint8Array;
  readonly oneTimeKeys: readonly LibolmCurveKeyPair[];
  readonly fallback: LibolmCurveKeyPair | undefined;
  readonly previousFallback: LibolmCurveKeyPair | undefined;
  readonly nextKeyId: number;
}

/** The plaintext of a libolm account pickle (version 4), field for field as libolm writes it. */
export function writeLibolmAccount(account: LibolmAccountState): Uint8Array {
  const out = new LibolmWriter().u32(ACCOUNT_VERSION);
  out.bytes(account.ed25519Public).bytes(account.ed25519Expanded);
  out.bytes(account.curve25519Public).bytes(account.curve25519Private);
  const key = (k: LibolmCurveKeyPair) =>
    out.u32(k.id).bool(k.published).bytes(k.publicKey).bytes(k.privateKey);
  out.u32(account.oneTimeKeys.length);
  for (const k of account.oneTimeKeys) key(k);
  const fallbacks = [account.fallback, account.previousFallback].filter((k) => k !== undefined);
  out.u8(fallbacks.length);
  for (const k of fallbacks) key(k);
  return out.u32(account.nextKeyId).finish();
}

/**
 * The plaintext of a libolm session pickle (version 1). libolm keeps at most one sender chain,
 * five receiver chains and forty skipped keys, as Weft does, in the same newest-first order.
 */
export function writeLibolmSession(session: LibolmSession): Uint8Array {
  const { ratchet } = session;
  const out = new LibolmWriter().u32(SESSION_VERSION).bool(session.receivedMessage);
  out.bytes(session.aliceIdentityKey).bytes(session.aliceBaseKey).bytes(session.bobOneTimeKey);
  out.bytes(ratchet.rootKey);
  const sender = ratchet.sender;
  out.u32(sender === undefined ? 0 : 1);
  if (sender !== undefined) {
    out.bytes(curvePublicKey(sender.ratchetPrivate)).bytes(sender.ratchetPrivate);
    out.bytes(sender.chainKey).u32(sender.index);
  }
  out.u32(ratchet.receivers.length);
  for (const chain of ratchet.receivers) {
    out.bytes(chain.ratchetKey).bytes(chain.chainKey).u32(chain.index);
  }
  out.u32(ratchet.skipped.length);
  for (const skipped of ratchet.skipped) {
    out.bytes(skipped.ratchetKey).bytes(skipped.messageKey).u32(skipped.index);
  }
  return out.finish();
}
