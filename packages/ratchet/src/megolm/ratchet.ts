/**
 * The Megolm ratchet R_i: four 256-bit parts R_{i,0..3} and the 32-bit counter i.
 *
 * Spec: https://spec.matrix.org/v1.19/olm-megolm/megolm/#the-megolm-ratchet-algorithm
 * Every 2^8 steps R_{i,3} is reseeded from R_{i,2}, every 2^16 steps R_{i,2..3} from R_{i,1},
 * every 2^24 steps R_{i,1..3} from R_{i,0}; otherwise only R_{i,3} is hashed. The hash functions
 * are H_j(A) = HMAC-SHA-256(A, the single byte j) ("Advancing the ratchet").
 */
import type { CipherKeys, CipherKeysBuffer } from '../cipher.ts';
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
// Their seeds, and the seed of R_{i,j} rehashing itself: built once, not per step.
const DOWN_TO_SEEDS = DOWN_TO.map((targets) => targets.map((to) => SEEDS[to] as Uint8Array));
const SELF_SEEDS = SEEDS.map((seed) => [seed]);
// The key of a rehash, copied out of R_{i,from} first (reused, wiped after each rehash).
const rehashKey = new Uint8Array(PART_LENGTH);

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

  /** Overwrites this ratchet with `other`'s value and index (no allocation). */
  copyFrom(other: MegolmRatchet): void {
    this.data.set(other.data);
    this.counter = other.counter;
  }

  // Views of the parts each rehash writes: [h] for a reseed from R_{i,h} (parts 3..h), [4 + j]
  // for R_{i,j} rehashing itself. Built on a ratchet's first step, then reused.
  #outputs: Uint8Array[][] | undefined;

  #outputsFor(slot: number): Uint8Array[] {
    if (this.#outputs === undefined) {
      const part = (to: number): Uint8Array =>
        this.data.subarray(to * PART_LENGTH, (to + 1) * PART_LENGTH);
      this.#outputs = [
        ...DOWN_TO.map((targets) => targets.map(part)),
        ...[0, 1, 2, 3].map((j) => [part(j)]),
      ];
    }
    return this.#outputs[slot] as Uint8Array[];
  }

  /**
   * R_{i,to} = H_to(R_{i,from}) for each part in output slot `slot` of `#outputsFor` (given from 3
   * down): the key is copied from R_{i,from} first, so overwriting R_{i,from} itself last is safe.
   */
  private rehash(from: number, seeds: readonly Uint8Array[], slot: number): void {
    const data = this.data;
    const start = from * PART_LENGTH;
    for (let i = 0; i < PART_LENGTH; i++) rehashKey[i] = data[start + i] as number;
    try {
      // One keyed HMAC for all targets, each digest written straight into its part.
      hmacSha256Into(rehashKey, seeds, this.#outputsFor(slot));
    } finally {
      rehashKey.fill(0);
    }
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
    this.rehash(h, DOWN_TO_SEEDS[h] as Uint8Array[], h);
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
      const self = SELF_SEEDS[j] as Uint8Array[];
      for (let s = 1; s < steps; s++) this.rehash(j, self, 4 + j);
      this.rehash(j, DOWN_TO_SEEDS[j] as Uint8Array[], j);
      // Index bits below part j restart from zero after a reseed.
      this.counter = ((target >>> shift) << shift) >>> 0;
    }
    this.counter = target;
  }

  /**
   * AES key, HMAC key and IV for the message at the current index, HKDF(0, R_i, "MEGOLM_KEYS",
   * 80), into a reused `CipherKeysBuffer` (wipe it with `zeroizeKeys` after use).
   */
  messageKeysInto(keys: CipherKeysBuffer): CipherKeys {
    return keys.derive(this.data, MEGOLM_KEYS_INFO);
  }

  /** Overwrites the ratchet value. */
  zeroize(): void {
    this.data.fill(0);
  }
}
