/**
 * Reads the decrypted plaintext of libolm's Megolm pickles: big-endian uint32s, a Megolm ratchet
 * as 128 bytes followed by its uint32 counter (`megolm_pickle`), raw keys, and one-byte booleans.
 * Any overrun or leftover byte is `RatchetError('bad-pickle')`, as libolm's OLM_CORRUPTED_PICKLE.
 */
import { RatchetError } from '../errors.ts';
import { MegolmRatchet, RATCHET_LENGTH } from './ratchet.ts';

function corrupted(offset: number): RatchetError {
  return new RatchetError('bad-pickle', 'libolm pickle is corrupted', { context: { offset } });
}

/** A bounds-checked cursor over a libolm pickle's plaintext; copies what it returns. */
export class LibolmReader {
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The next `length` bytes, copied. */
  bytes(length: number): Uint8Array {
    if (this.#offset + length > this.#bytes.length) throw corrupted(this.#offset);
    const out = this.#bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  /** A big-endian uint32. */
  uint32(): number {
    const b = this.bytes(4);
    return (
      (b[0] as number) * 0x1000000 +
      (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number))
    );
  }

  /** A one-byte boolean (libolm writes 0 or 1). */
  bool(): boolean {
    const b = this.bytes(1)[0] as number;
    if (b > 1) throw corrupted(this.#offset - 1);
    return b === 1;
  }

  /** `megolm_pickle`: the 128-byte ratchet, then its counter. */
  ratchet(): MegolmRatchet {
    const data = this.bytes(RATCHET_LENGTH);
    return new MegolmRatchet(data, this.uint32());
  }

  /** Checks that every byte was consumed. */
  end(): void {
    if (this.#offset !== this.#bytes.length) throw corrupted(this.#offset);
  }
}
