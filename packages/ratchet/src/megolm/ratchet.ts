/**
 * The Megolm ratchet R_i: four 256-bit parts R_{i,0..3} and the 32-bit counter i.
 *
 * Spec: https://spec.matrix.org/v1.19/olm-megolm/megolm/#the-megolm-ratchet-algorithm
 * Every 2^8 steps R_{i,3} is reseeded from R_{i,2}, every 2^16 steps R_{i,2..3} from R_{i,1},
 * every 2^24 steps R_{i,1..3} from R_{i,0}; otherwise only R_{i,3} is hashed. The hash functions
 * are H_j(A) = HMAC-SHA-256(A, the single byte j) ("Advancing the ratchet").
 */
import { type CipherKeys, type CipherKeysBuffer, deriveCipherKeys } from '../cipher.ts';
import { RatchetError } from '../errors.ts';
import { hmacSha256Into } from '../primitives.ts';

/** Length of one ratchet part R_{i,j}. */
export const PART_LENGTH = 32;
/** Length of the whole ratchet R_i (four parts). */
export const RATCHET_LENGTH = 4 * PART_LENGTH;
/** The largest message index (libolm stores the counter as a uint32). */
export const MAX_INDEX = 0xffffffff;

// HKDF info for the message keys ("Message encryption": HKDF(0, R_i, "MEGOLM_KEYS", 80)).
const MEGOLM_KEYS_INFO = 'MEGOLM_KEYS';
const SEEDS = [Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)] as const;
// Parts 3..h, highest first: the parts a reseed from R_{i,h} rewrites.
const DOWN_TO = [[3, 2, 1, 0], [3, 2, 1], [3, 2], [3]] as const;

/** A mutable ratchet value; callers clone before speculative work and zeroize when done. */
export class MegolmRatchet {
  /** R_{i,0} ‖ R_{i,1} ‖ R_{i,2} ‖ R_{i,3}. */
  readonly data: Uint8Array;
  /** The index i. */
  counter: number;

  /** Takes ownership of `data` (128 bytes) at index `counter`. */
  constructor(data: Uint8Array, counter: number) {
    if (!(data instanceof Uint8Array) || data.length !== RATCHET_LENGTH) {
      throw new RangeError(`ratchet must be ${RATCHET_LENGTH} bytes`);
    }
    if (!Number.isInteger(counter) || counter < 0 || counter > MAX_INDEX) {
      throw new RangeError('ratchet index must be an unsigned 32-bit integer');
    }
    this.data = data;
    this.counter = counter;
  }

  /** An independent copy. */
  clone(): MegolmRatchet {
    return new MegolmRatchet(this.data.slice(), this.counter);
  }

  /**
   * R_{i,to} = H_to(R_{i,from}) for each `to` in `targets` (given from 3 down): the key is copied
   * from R_{i,from} first, so overwriting R_{i,from} itself last is safe.
   */
  private rehash(from: number, targets: readonly number[]): void {
    const key = this.data.slice(from * PART_LENGTH, (from + 1) * PART_LENGTH);
    // One keyed HMAC for all targets, each digest written straight into its part.
    hmacSha256Into(
      key,
      targets.map((to) => SEEDS[to] as Uint8Array),
      targets.map((to) => this.data.subarray(to * PART_LENGTH, (to + 1) * PART_LENGTH)),
    );
    key.fill(0);
  }

  /**
   * i → i+1. The highest part h whose period divides i+1 is hashed into parts 3..h (from 3 down
   * to h, so R_{i,h} is read before it changes). The index is a uint32 on the wire and in
   * libolm's and vodozemac's state; past 2^32−1 libolm (and vodozemac's release builds) wrap to
   * 0 and reuse indices, vodozemac's debug builds panic on the overflow. Weft never wraps: the
   * ratchet cannot advance from 2^32−1 (`session-exhausted`).
   */
  advance(): void {
    if (this.counter === MAX_INDEX) {
      throw new RatchetError('session-exhausted', 'Megolm ratchet cannot advance past 2^32-1', {
        context: { messageIndex: this.counter },
      });
    }
    const next = this.counter + 1;
    let h = 3;
    if ((next & 0xffffff) === 0) h = 0;
    else if ((next & 0xffff) === 0) h = 1;
    else if ((next & 0xff) === 0) h = 2;
    this.rehash(h, DOWN_TO[h] as readonly number[]);
    this.counter = next;
  }

  /**
   * Winds forward to index `target` ≥ the current index with at most 4 × 255 hashes: for each part
   * j from the most significant, step R_{·,j} as many times as byte j of the index advances; its
   * last step also reseeds the lower parts from it, which then count up from zero.
   */
  advanceTo(target: number): void {
    if (!Number.isInteger(target) || target < this.counter || target > MAX_INDEX) {
      throw new RangeError('can only advance the ratchet forwards to a uint32 index');
    }
    for (let j = 0; j < 4; j++) {
      const shift = (3 - j) * 8;
      // Parts above j already agree with the target, so byte j alone tells how far to go.
      const steps = ((target >>> shift) & 0xff) - ((this.counter >>> shift) & 0xff);
      if (steps === 0) continue;
      const self = [j];
      for (let s = 1; s < steps; s++) this.rehash(j, self);
      this.rehash(j, DOWN_TO[j] as readonly number[]);
      // Index bits below part j restart from zero after a reseed.
      this.counter = ((target >>> shift) << shift) >>> 0;
    }
    this.counter = target;
  }

  /** AES key, HMAC key and IV for the message at the current index. */
  messageKeys(): CipherKeys {
    return deriveCipherKeys(this.data, MEGOLM_KEYS_INFO);
  }

  /** `messageKeys` into a reused `CipherKeysBuffer` (wipe it with `zeroizeKeys` after use). */
  messageKeysInto(keys: CipherKeysBuffer): CipherKeys {
    return keys.derive(this.data, MEGOLM_KEYS_INFO);
  }

  /** Overwrites the ratchet value. */
  zeroize(): void {
    this.data.fill(0);
  }
}
