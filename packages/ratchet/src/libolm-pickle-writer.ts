/**
 * Writes the plaintext of libolm's pickles (the inverse of the readers in
 * `olm/libolm-pickle.ts` and `megolm/libolm-pickle.ts`): big-endian uint32s, one-byte flags and
 * raw key bytes, in libolm's field order. `finish` returns the bytes and wipes the writer's
 * copies; the caller seals them with `sealLibolmPickle` (`pickle.ts`) and zeroes them.
 */
export class LibolmWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  /** Raw bytes (copied). */
  bytes(value: Uint8Array): this {
    this.#parts.push(Uint8Array.from(value));
    this.#length += value.length;
    return this;
  }

  /** One byte. */
  u8(value: number): this {
    return this.bytes(Uint8Array.of(value));
  }

  /** A flag as libolm writes it: 0 or 1. */
  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  /** A big-endian uint32. */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError('libolm pickles store uint32 values');
    }
    return this.bytes(
      Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff),
    );
  }

  /** A Megolm ratchet as `megolm_pickle` writes it: 128 bytes, then the counter. */
  megolmRatchet(ratchet: { readonly data: Uint8Array; readonly counter: number }): this {
    return this.bytes(ratchet.data).u32(ratchet.counter);
  }

  /** Everything written, as one buffer; the writer's copies are wiped. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
      part.fill(0);
    }
    this.#parts.length = 0;
    this.#length = 0;
    return out;
  }
}
