/**
 * HMAC-SHA-256 (RFC 2104) on reusable @noble/hashes SHA-256 objects, for the Olm per-message path.
 *
 * Each Olm message runs about ten HMACs under fresh keys. noble's `hmac()` allocates two hash
 * objects, a key pad and several views per call, and in a CPU profile that allocation and the
 * garbage collection it causes cost more than the SHA-256 compressions themselves. This keeps one
 * set of hash objects per instance and re-keys them by cloning a pristine SHA-256 state into them
 * (noble's `_cloneInto`), so a MAC allocates nothing but its output. The hashing is noble's.
 *
 * Every hash state that saw key or message material is wiped (noble's `destroy()`: zeroed state
 * and buffer) after each `mac` and by `wipe()`. Instances are not re-entrant; JavaScript runs each
 * call to completion, and no call here invokes user code.
 */
import { type _SHA256, sha256 } from '@noble/hashes/sha2.js';

const BLOCK = 64;
const pristine: _SHA256 = sha256.create();

// noble wraps any update() of a whole block or more in a fresh DataView; two half-block updates
// go through the hash's own buffer instead, which is cheaper for the 64-byte key pads.
function absorbBlock(hash: _SHA256, block: Uint8Array): void {
  hash.update(block.subarray(0, BLOCK / 2)).update(block.subarray(BLOCK / 2));
}

/** A reusable HMAC-SHA-256 keyed with `setKey` (keys of at most 64 bytes). */
export class HmacSha256 {
  readonly #innerKeyed: _SHA256 = sha256.create();
  readonly #outerKeyed: _SHA256 = sha256.create();
  readonly #inner: _SHA256 = sha256.create();
  readonly #outer: _SHA256 = sha256.create();
  readonly #pad = new Uint8Array(BLOCK);

  /** Keys the HMAC: hashes the ipad and opad blocks once for every later `mac`. */
  setKey(key: Uint8Array): this {
    if (key.length > BLOCK) throw new RangeError('HMAC key longer than one block');
    const pad = this.#pad;
    pad.fill(0);
    pad.set(key);
    for (let i = 0; i < BLOCK; i++) pad[i] = (pad[i] as number) ^ 0x36;
    absorbBlock(pristine._cloneInto(this.#innerKeyed), pad);
    for (let i = 0; i < BLOCK; i++) pad[i] = (pad[i] as number) ^ (0x36 ^ 0x5c);
    absorbBlock(pristine._cloneInto(this.#outerKeyed), pad);
    pad.fill(0);
    return this;
  }

  /** Writes HMAC(key, parts[0] ‖ parts[1] ‖ …) into `out` (32 bytes) and returns `out`. */
  mac(out: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    const inner = this.#innerKeyed._cloneInto(this.#inner);
    for (const part of parts) inner.update(part);
    // digest() finalises in the hash's own buffer (digestInto would wrap `out` in a new DataView)
    // and wipes the state afterwards.
    const innerDigest = inner.digest();
    const outer = this.#outerKeyed._cloneInto(this.#outer).update(innerDigest);
    innerDigest.fill(0);
    const digest = outer.digest();
    out.set(digest);
    digest.fill(0);
    return out;
  }

  /** Zeroes the keyed states; `setKey` must be called before the next `mac`. */
  wipe(): void {
    this.#innerKeyed.destroy();
    this.#outerKeyed.destroy();
  }
}
