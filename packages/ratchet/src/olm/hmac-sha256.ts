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

/** A reusable HMAC-SHA-256 keyed with `setKey` (keys of at most 64 bytes). */
export class HmacSha256 {
  readonly #innerKeyed: _SHA256 = sha256.create();
  readonly #outerKeyed: _SHA256 = sha256.create();
  readonly #inner: _SHA256 = sha256.create();
  readonly #outer: _SHA256 = sha256.create();
  readonly #pad = new Uint8Array(BLOCK);
  readonly #innerDigest = new Uint8Array(32);

  /** Keys the HMAC: hashes the ipad and opad blocks once for every later `mac`. */
  setKey(key: Uint8Array): this {
    if (key.length > BLOCK) throw new RangeError('HMAC key longer than one block');
    const pad = this.#pad;
    pad.fill(0);
    pad.set(key);
    for (let i = 0; i < BLOCK; i++) pad[i] = (pad[i] as number) ^ 0x36;
    pristine._cloneInto(this.#innerKeyed).update(pad);
    for (let i = 0; i < BLOCK; i++) pad[i] = (pad[i] as number) ^ (0x36 ^ 0x5c);
    pristine._cloneInto(this.#outerKeyed).update(pad);
    pad.fill(0);
    return this;
  }

  /** Writes HMAC(key, parts[0] ‖ parts[1] ‖ …) into `out` (32 bytes) and returns `out`. */
  mac(out: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    const inner = this.#innerKeyed._cloneInto(this.#inner);
    for (const part of parts) inner.update(part);
    inner.digestInto(this.#innerDigest);
    this.#outerKeyed._cloneInto(this.#outer).update(this.#innerDigest).digestInto(out);
    this.#inner.destroy();
    this.#outer.destroy();
    this.#innerDigest.fill(0);
    return out;
  }

  /** Zeroes the keyed states; `setKey` must be called before the next `mac`. */
  wipe(): void {
    this.#innerKeyed.destroy();
    this.#outerKeyed.destroy();
  }
}
