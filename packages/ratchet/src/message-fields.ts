/**
 * The field reader of libolm's binary message encoding, shared by Olm's and Megolm's decoders
 * (Olm spec, "The Olm Message Format"; Megolm spec, "Message format"): after the version byte,
 * key/value fields whose key is a varint tag, the low three bits of which give the value's type
 * (0 = varint integer, 2 = varint length then that many bytes). As in libolm, unknown fields
 * of those types are skipped, and a field of any other type ends the body: it and everything
 * after it are ignored.
 *
 * One object per message, walked one `next()` at a time, with the current field in public
 * properties: no closure, tuple or object per field or varint, and no state outside the object.
 * Every read is bounds-checked, so hostile input only ever yields the caller's
 * `bad-message-format` error.
 */
import type { RatchetError } from './errors.ts';

/** Builds the protocol's `bad-message-format` error (its wording names Olm or Megolm). */
export type Malformed = (reason: string, context?: Record<string, number>) => RatchetError;

/** A varint takes at most 10 bytes (64 bits in groups of 7); longer ones are refused. */
const MAX_VARINT_BYTES = 10;

export class FieldReader {
  readonly #input: Uint8Array;
  readonly #end: number;
  readonly #maxValue: number;
  readonly #malformed: Malformed;
  #pos: number;
  /** The current field's tag. */
  tag = 0;
  /** A varint field's value (wire type 0). */
  value = 0;
  /** A length-prefixed field's offset in the input and length (wire type 2). */
  start = 0;
  length = 0;

  /**
   * Reads the fields of `input[start..end)`. Varints above `maxValue` (at most 2^53 − 1) are
   * refused with `malformed('varint too large')`.
   */
  constructor(
    input: Uint8Array,
    start: number,
    end: number,
    maxValue: number,
    malformed: Malformed,
  ) {
    this.#input = input;
    this.#pos = start;
    this.#end = end;
    this.#maxValue = maxValue;
    this.#malformed = malformed;
  }

  /** Reads the next field; false at the end. */
  next(): boolean {
    if (this.#pos >= this.#end) return false;
    const tag = this.#varint();
    this.tag = tag;
    const wireType = tag & 7;
    if (wireType === 0) {
      this.value = this.#varint();
    } else if (wireType === 2) {
      const length = this.#varint();
      if (length > this.#end - this.#pos) {
        throw this.#malformed('field longer than message', { tag, length });
      }
      this.start = this.#pos;
      this.length = length;
      this.#pos += length;
    } else {
      // Any other wire type (1, 3, 4, 5, 6, 7) has a length libolm does not know: its
      // skip_unknown (src/message.cpp) then jumps to the end of the body, so the rest of the
      // body, known fields included, is ignored and the message is judged on the fields read so
      // far. Do the same: byte-compatible acceptance, and a later field never overrides.
      this.#pos = this.#end;
      return false;
    }
    return true;
  }

  /** The current length-prefixed field's bytes, as a view of the input. */
  bytes(): Uint8Array {
    return this.#input.subarray(this.start, this.start + this.length);
  }

  /** A little-endian base-128 varint. */
  #varint(): number {
    const input = this.#input;
    const first = this.#pos;
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.#pos >= this.#end)
        throw this.#malformed('truncated varint', { position: this.#pos });
      if (this.#pos - first === MAX_VARINT_BYTES) {
        throw this.#malformed('varint too long', { position: first });
      }
      const byte = input[this.#pos++] as number;
      value += (byte & 0x7f) * scale;
      if (value > this.#maxValue) throw this.#malformed('varint too large', { position: first });
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
  }
}
