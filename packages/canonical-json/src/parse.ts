/**
 * Strict JSON parser for untrusted input.
 *
 * Grammar: RFC 8259 (JSON). On top of it, the rules Matrix needs to sign and verify exactly
 * what it received: spec appendices.md "Canonical JSON" (integers only, in
 * [-(2**53)+1, (2**53)-1]; https://spec.matrix.org/v1.19/appendices/#canonical-json), plus
 * rejection of what a generic parser lets through silently and two peers could read
 * differently: duplicate keys (RFC 8259 §4 leaves their meaning undefined), unpaired surrogates
 * (no UTF-8 form, RFC 8259 §8.2), ill-formed UTF-8, excessive nesting and size.
 *
 * Room versions 1–5 predate the number rules (room versions spec, v6: "enforces canonical JSON",
 * https://spec.matrix.org/v1.19/rooms/v6/); `legacyNumbers` admits their floats and big
 * integers, and is off by default. `floats` admits floats but keeps the integer range, for JSON
 * that is not signed but must still reach clients as JSON numbers (account data, room tags).
 */
import { DEFAULT_MAX_DEPTH } from './encode.ts';
import { CanonicalJsonError } from './errors.ts';
import { Failure } from './failure.ts';
import { parseCommonCase } from './parse-fast.ts';
import { decodeUtf8Strict } from './utf8.ts';

/** Default input size limit of {@link parseJson}, in UTF-8 bytes (16 MiB). */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** Options for {@link parseJson}. */
export interface ParseOptions {
  /** Deepest nesting of arrays and objects accepted (the root container is depth 1). Default 512. */
  readonly maxDepth?: number;
  /**
   * Largest input accepted, in UTF-8 bytes (the byte length of a `Uint8Array`, the UTF-8 length
   * of a string). Default {@link DEFAULT_MAX_BYTES}; a PDU is at most 65536 bytes.
   */
  readonly maxBytes?: number;
  /**
   * Room versions 1–5 only: accept floats and integers outside the safe range. Floats are
   * returned as `number`; integers outside [-(2**53)+1, (2**53)-1] as `bigint` so no digit is
   * lost. Such values cannot be re-encoded by {@link encodeCanonicalJson}. Default `false`.
   */
  readonly legacyNumbers?: boolean;
  /**
   * Accept numbers only as the canonical grammar writes them (`-?(0|[1-9][0-9]*)`): any fraction
   * or exponent is a `float`, even when its value is an integer (`2.0`, `1e10`). This is what
   * Synapse accepts in room versions ≥ 6 (its Python parser reads such numbers as floats and
   * rejects them), so a server that must accept exactly the PDUs its peers accept sets it.
   * Ignored with `legacyNumbers` or `floats`. Default `false`: `-0` is `0` either way.
   */
  readonly strictNumberSyntax?: boolean;
  /**
   * Accept floats, keep the integer range: for JSON that is not signed or hashed but may hold
   * floats (account data, room tags). A number written with a fraction or exponent is a float,
   * even when its value is integral, and is returned as `Number(literal)`: `1.0` → `1`,
   * `1e3` → `1000`, `9007199254740992.0` → `9007199254740992`; one that overflows a double
   * (`1E400`) is `non-finite`. A number written without fraction or exponent is an integer and
   * must lie in [-(2**53)+1, (2**53)-1] as in canonical JSON (`9007199254740992` is
   * `integer-out-of-range`, with its path and position). `-0` and `-0.0` are `0`. Such floats
   * cannot be re-encoded by {@link encodeCanonicalJson}. `legacyNumbers` wins over it;
   * `strictNumberSyntax` is ignored with it. Default `false`.
   */
  readonly floats?: boolean;
}

/**
 * How the strict parser reads numbers (and, for `any-json`, keys and strings):
 * - `canonical`: integers in the canonical range, whatever the notation (`2.0`, `1e10`);
 * - `canonical-strict`: the same, but any fraction or exponent is a `float` (`strictNumberSyntax`);
 * - `floats`: floats as `number`, integer literals in the canonical range (`floats`);
 * - `legacy`: floats as `number`, integers beyond the range as `bigint` (`legacyNumbers`);
 * - `any-json`: `JSON.parse`'s reading (parseAnyJson): every number is `Number(literal)` (so
 *   `-0`, rounded big integers, `Infinity` for 1e400), a repeated key keeps its last value and
 *   unpaired surrogates are kept. Syntax is still RFC 8259's, checked as strictly.
 */
export type ParseMode = 'canonical' | 'canonical-strict' | 'floats' | 'legacy' | 'any-json';

// biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 8259 §7 forbids raw U+0000–U+001F.
const PLAIN_RUN = /[^"\\\u0000-\u001f\ud800-\udfff]*/y;
const NUMBER = /(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?/y;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parses JSON text (a string, or UTF-8 bytes as received from the network) strictly.
 *
 * Rejects, with a {@link CanonicalJsonError} carrying `code`, `path` and `position`:
 * ill-formed UTF-8 (`invalid-utf8`), a byte-order mark or any other non-JSON text (`syntax`),
 * unpaired surrogates raw or escaped (`lone-surrogate`), repeated keys (`duplicate-key`),
 * non-integral numbers (`float`), integers outside the canonical range
 * (`integer-out-of-range`), `NaN`/`Infinity` (`non-finite`), nesting beyond `maxDepth`
 * (`too-deep`) and input beyond `maxBytes` (`too-large`).
 *
 * A number is accepted when its exact decimal value is an integer in range, whatever its
 * notation: `1e10` → `10000000000`, `2.0` → `2`, `-0` → `0` (the spec's own example maps
 * `{"a": -0, "b": 1e10}` to `{"a":0,"b":10000000000}`); `1.5` and `1.0000000000000001` are floats.
 *
 * Objects come back as plain objects (`__proto__` is an ordinary own key), arrays as arrays.
 */
export function parseJson(input: string | Uint8Array, options?: ParseOptions): unknown {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new RangeError('maxDepth must be a non-negative safe integer');
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError('maxBytes must be a non-negative safe integer');
  }
  const isBytes = input instanceof Uint8Array;
  if (!isBytes && typeof input !== 'string') {
    throw new TypeError('parseJson expects a string or a Uint8Array');
  }
  try {
    if (isBytes ? input.byteLength > maxBytes : stringTooLarge(input, maxBytes)) {
      throw new Failure('too-large', `input is larger than ${maxBytes} bytes`, maxBytes);
    }
    const text = isBytes ? decodeUtf8Strict(input) : input;
    // Same value as the strict parser below, proven by parse-fast.ts; undefined otherwise. The
    // texts it answers hold only integers of at most 15 digits (no `-0`), which every number
    // option reads alike, so `legacyNumbers` and `floats` take it too; any bigger integer, and
    // any fraction or exponent, goes to the strict parser.
    const value = parseCommonCase(text, maxDepth);
    if (value !== undefined) return value;
    return parseStrict(text, isBytes, maxDepth, modeOf(options));
  } catch (error) {
    throw publicError(error);
  }
}

/** The strict parser's mode for `options`: `legacyNumbers` wins, then `floats`. */
function modeOf(options: ParseOptions | undefined): ParseMode {
  if (options?.legacyNumbers === true) return 'legacy';
  if (options?.floats === true) return 'floats';
  if (options?.strictNumberSyntax === true) return 'canonical-strict';
  return 'canonical';
}

/**
 * What a parse failure is thrown as: the parser's `Failure` as its `CanonicalJsonError`, and a
 * `RangeError` as `too-deep` — no user code runs while parsing, so it is the engine's stack
 * limit, reached only when the depth allowed is far above the default.
 */
export function publicError(error: unknown): unknown {
  if (error instanceof Failure) return error.toError();
  if (error instanceof RangeError) {
    return new CanonicalJsonError('too-deep', 'nesting exhausted the call stack', {
      path: '$',
      cause: error,
    });
  }
  return error;
}

/**
 * The strict recursive-descent parser on its own (no fast path); throws `Failure`. Exported for
 * the tests that hold the fast path to it.
 */
export function parseStrict(
  text: string,
  isBytes: boolean,
  maxDepth: number,
  mode: ParseMode,
): unknown {
  const parser = new Parser(text, maxDepth, mode);
  try {
    const value = parser.parseValue();
    parser.skipWhitespace();
    if (parser.pos < text.length) {
      throw new Failure('syntax', 'unexpected data after the JSON value', parser.pos);
    }
    return value;
  } catch (error) {
    // Parser positions count UTF-16 units; for byte input report bytes.
    if (isBytes && error instanceof Failure && error.position !== undefined) {
      error.position = utf8Length(text.slice(0, error.position));
    }
    throw error;
  }
}

/** UTF-8 length of `text`; stops counting once it passes `stopAfter`. */
function utf8Length(text: string, stopAfter = Number.POSITIVE_INFINITY): number {
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= stopAfter; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (isHighSurrogate(unit) && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/** Whether a string's UTF-8 form is longer than `maxBytes` (a unit takes one to three bytes). */
function stringTooLarge(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return utf8Length(text, maxBytes) > maxBytes;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Recursive descent over the decoded text; `pos` is a UTF-16 offset. */
class Parser {
  readonly text: string;
  readonly maxDepth: number;
  readonly mode: ParseMode;
  /**
   * Mode `any-json`: a repeated key keeps its last value and unpaired surrogates are kept (see
   * {@link ParseMode}); read once here, as strings and keys test it often.
   */
  readonly lenient: boolean;
  pos = 0;
  depth = 0;

  constructor(text: string, maxDepth: number, mode: ParseMode) {
    this.text = text;
    this.maxDepth = maxDepth;
    this.mode = mode;
    this.lenient = mode === 'any-json';
  }

  /** RFC 8259 §2: whitespace is space, tab, line feed and carriage return only. */
  skipWhitespace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  parseValue(): unknown {
    this.skipWhitespace();
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.parseObject();
      case 0x5b: // [
        return this.parseArray();
      case 0x22: // "
        return this.parseString();
      case 0x74: // t
        return this.parseWord('true', true);
      case 0x66: // f
        return this.parseWord('false', false);
      case 0x6e: // n
        return this.parseWord('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
        this.rejectNonFinite();
        throw this.syntax(Number.isNaN(c) ? 'unexpected end of input' : 'expected a JSON value');
    }
  }

  syntax(detail: string, position = this.pos): Failure {
    return new Failure('syntax', detail, position);
  }

  /** Python's json module (and so older Synapse) writes these words; JSON has no such values. */
  rejectNonFinite(): void {
    const text = this.text;
    for (const word of ['NaN', 'Infinity', '-Infinity']) {
      if (text.startsWith(word, this.pos)) {
        throw new Failure('non-finite', 'NaN and Infinity are not JSON', this.pos);
      }
    }
  }

  parseWord<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) throw this.syntax('expected a JSON value');
    this.pos += word.length;
    return value;
  }

  enter(): void {
    if (this.depth >= this.maxDepth) {
      throw new Failure('too-deep', `nesting deeper than ${this.maxDepth}`, this.pos);
    }
    this.depth++;
  }

  parseArray(): unknown[] {
    this.enter();
    this.pos++; // [
    const array: unknown[] = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      this.depth--;
      return array;
    }
    try {
      for (;;) {
        array.push(this.parseValue());
        this.skipWhitespace();
        const c = this.text.charCodeAt(this.pos);
        this.pos++;
        if (c === 0x2c) continue; // ,
        if (c === 0x5d) break; // ]
        throw this.syntax("expected ',' or ']'", this.pos - 1);
      }
    } catch (error) {
      if (error instanceof Failure) error.segments.push(array.length);
      throw error;
    }
    this.depth--;
    return array;
  }

  parseObject(): Record<string, unknown> {
    this.enter();
    this.pos++; // {
    const object: Record<string, unknown> = {};
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      this.depth--;
      return object;
    }
    // The key whose value is being read, for the error path; unset while reading a key.
    let key: string | undefined;
    try {
      for (;;) {
        this.skipWhitespace();
        const keyStart = this.pos;
        if (this.text.charCodeAt(keyStart) !== 0x22) throw this.syntax('expected a string key');
        const name = this.parseString();
        if (!this.lenient && Object.hasOwn(object, name)) {
          key = name;
          throw new Failure('duplicate-key', 'key appears twice in one object', keyStart);
        }
        this.skipWhitespace();
        if (this.text.charCodeAt(this.pos) !== 0x3a) throw this.syntax("expected ':'");
        this.pos++;
        key = name;
        const value = this.parseValue();
        if (name === '__proto__') {
          // Plain assignment would replace the prototype instead of adding a key.
          Object.defineProperty(object, name, {
            value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          object[name] = value;
        }
        key = undefined;
        this.skipWhitespace();
        const c = this.text.charCodeAt(this.pos);
        this.pos++;
        if (c === 0x2c) continue; // ,
        if (c === 0x7d) break; // }
        throw this.syntax("expected ',' or '}'", this.pos - 1);
      }
    } catch (error) {
      if (error instanceof Failure && key !== undefined) error.segments.push(key);
      throw error;
    }
    this.depth--;
    return object;
  }

  /** RFC 8259 §7 strings; unpaired surrogates, raw or escaped, are rejected. */
  parseString(): string {
    const text = this.text;
    const start = this.pos + 1;
    PLAIN_RUN.lastIndex = start;
    PLAIN_RUN.test(text);
    let pos = PLAIN_RUN.lastIndex;
    if (text.charCodeAt(pos) === 0x22) {
      this.pos = pos + 1;
      return text.slice(start, pos);
    }
    let out = text.slice(start, pos);
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        this.pos = pos + 1;
        return out;
      }
      if (c === 0x5c) {
        const [decoded, next] = this.parseEscape(pos);
        out += decoded;
        pos = next;
      } else if (Number.isNaN(c)) {
        throw this.syntax('unterminated string', pos);
      } else if (c < 0x20) {
        throw this.syntax('raw control character in string', pos);
      } else if (isHighSurrogate(c) && isLowSurrogate(text.charCodeAt(pos + 1))) {
        out += text.slice(pos, pos + 2);
        pos += 2;
      } else if (this.lenient) {
        out += text[pos];
        pos++;
      } else {
        throw new Failure('lone-surrogate', 'string has an unpaired UTF-16 surrogate', pos);
      }
      PLAIN_RUN.lastIndex = pos;
      PLAIN_RUN.test(text);
      out += text.slice(pos, PLAIN_RUN.lastIndex);
      pos = PLAIN_RUN.lastIndex;
    }
  }

  /** Decodes the escape at `pos` (a backslash); returns its text and the offset after it. */
  parseEscape(pos: number): [string, number] {
    const text = this.text;
    switch (text.charCodeAt(pos + 1)) {
      case 0x22:
        return ['"', pos + 2];
      case 0x5c:
        return ['\\', pos + 2];
      case 0x2f:
        return ['/', pos + 2];
      case 0x62:
        return ['\b', pos + 2];
      case 0x66:
        return ['\f', pos + 2];
      case 0x6e:
        return ['\n', pos + 2];
      case 0x72:
        return ['\r', pos + 2];
      case 0x74:
        return ['\t', pos + 2];
      case 0x75: {
        const unit = this.hex4(pos + 2);
        if (this.lenient) return [String.fromCharCode(unit), pos + 6];
        if (isLowSurrogate(unit)) {
          throw new Failure('lone-surrogate', 'escaped low surrogate without a high one', pos);
        }
        if (!isHighSurrogate(unit)) return [String.fromCharCode(unit), pos + 6];
        // A high surrogate must be followed at once by an escaped low one.
        if (text.charCodeAt(pos + 6) === 0x5c && text.charCodeAt(pos + 7) === 0x75) {
          const low = this.hex4(pos + 8);
          if (isLowSurrogate(low)) return [String.fromCharCode(unit, low), pos + 12];
        }
        throw new Failure('lone-surrogate', 'escaped high surrogate without a low one', pos);
      }
      default:
        throw this.syntax('invalid escape', pos);
    }
  }

  hex4(pos: number): number {
    let value = 0;
    for (let i = pos; i < pos + 4; i++) {
      const c = this.text.charCodeAt(i);
      let digit: number;
      if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) digit = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) digit = c - 0x37;
      else throw this.syntax('invalid \\u escape', pos - 2);
      value = value * 16 + digit;
    }
    return value;
  }

  parseNumber(): number | bigint {
    const start = this.pos;
    NUMBER.lastIndex = start;
    const match = NUMBER.exec(this.text);
    if (match === null) {
      this.rejectNonFinite();
      throw this.syntax('invalid number');
    }
    this.pos = NUMBER.lastIndex;
    // The regex stops early on "01", "1.", "1e+" or "1.2.3"; name the number, not the separator.
    const after = this.text.charCodeAt(this.pos);
    if ((after >= 0x30 && after <= 0x39) || after === 0x2e || (after | 0x20) === 0x65) {
      throw this.syntax('invalid number');
    }
    const [literal, sign = '', integer = '', fraction, exponent] = match;
    const mode = this.mode;
    if (mode === 'any-json') return Number(literal);
    if (fraction === undefined && exponent === undefined) {
      const value = Number(literal);
      // Integer text: exact up to 2**53 - 1; anything larger rounds to ≥ 2**53.
      if (Number.isSafeInteger(value)) return value === 0 ? 0 : value;
      if (mode === 'legacy') return BigInt(literal);
      throw new Failure('integer-out-of-range', 'integer outside [-(2**53)+1, (2**53)-1]', start);
    }
    if (mode === 'legacy' || mode === 'floats') {
      // A fraction or exponent makes a float, even when its value is integral (2.0, 1e20).
      const value = Number(literal);
      if (!Number.isFinite(value)) {
        throw new Failure('non-finite', 'number overflows a double', start);
      }
      return value === 0 ? 0 : value;
    }
    if (mode === 'canonical-strict') {
      throw new Failure('float', 'fraction or exponent in a number', start);
    }
    return exactInteger(sign, integer, fraction ?? '', exponent ?? '0', start);
  }
}

/**
 * The value of a number written with a fraction or exponent, if it is exactly an integer in
 * the canonical range: decided on the decimal digits, not on a rounded double.
 */
function exactInteger(
  sign: string,
  integer: string,
  fraction: string,
  exponent: string,
  position: number,
): number {
  let digits = (integer + fraction).replace(/^0+/, '');
  if (digits === '') return 0; // any spelling of zero, including -0.0e5
  let scale = Number(exponent) - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  scale += digits.length - trimmed.length;
  digits = trimmed;
  if (scale < 0) {
    throw new Failure('float', 'non-integral numbers are not canonical JSON', position);
  }
  // 10**16 > 2**53, so more than 16 digits in all is out of range (also catches huge exponents).
  if (digits.length + scale > 16) {
    throw new Failure('integer-out-of-range', 'integer outside [-(2**53)+1, (2**53)-1]', position);
  }
  const magnitude = BigInt(digits) * 10n ** BigInt(scale);
  if (magnitude > MAX_SAFE) {
    throw new Failure('integer-out-of-range', 'integer outside [-(2**53)+1, (2**53)-1]', position);
  }
  return sign === '-' ? -Number(magnitude) : Number(magnitude);
}
