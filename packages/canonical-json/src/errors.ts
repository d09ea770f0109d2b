/**
 * The one error class of this package. Every rejection, by the encoder or the parser, is a
 * `CanonicalJsonError` whose `code` says what was wrong and whose `path` says where.
 */

/** Brand shared by every copy of this package, read by `CanonicalJsonError.isInstance`. */
const MARKER = Symbol.for('weft.canonical-json.error');

/**
 * What went wrong. Encoder and parser share the codes that mean the same thing (a float is a
 * float whether it came from a JS value or from JSON text).
 *
 * - `float`: a number that is not an integer (spec: "Float values are not permitted").
 * - `non-finite`: `NaN` or `±Infinity` (a JS value, or the `NaN`/`Infinity` words in text).
 * - `integer-out-of-range`: an integer outside [-(2**53)+1, (2**53)-1].
 * - `unsupported-type`: `undefined`, a function, a symbol (encoder only).
 * - `non-plain-object`: an object whose prototype is neither `Object.prototype` nor `null`, e.g.
 *   a `Date`, `Map`, `Uint8Array` or class instance (encoder only).
 * - `cycle`: an object or array that contains itself (encoder only).
 * - `lone-surrogate`: a string with an unpaired UTF-16 surrogate, which has no UTF-8 encoding.
 * - `invalid-utf8`: input bytes that are not well-formed UTF-8 (parser only).
 * - `syntax`: text that is not JSON (parser only).
 * - `duplicate-key`: an object with the same key twice (parser only).
 * - `too-deep`: nesting deeper than the configured limit.
 * - `too-large`: input longer than the configured limit (parser only).
 */
export type CanonicalJsonErrorCode =
  | 'float'
  | 'non-finite'
  | 'integer-out-of-range'
  | 'unsupported-type'
  | 'non-plain-object'
  | 'cycle'
  | 'lone-surrogate'
  | 'invalid-utf8'
  | 'syntax'
  | 'duplicate-key'
  | 'too-deep'
  | 'too-large';

/** Context carried by a {@link CanonicalJsonError}. */
export interface CanonicalJsonErrorOptions {
  /** JSON path of the offending value, e.g. `$.content["m.relates_to"][0]`; `$` is the root. */
  readonly path: string;
  /**
   * Parser only: offset of the offending input, in bytes for `Uint8Array` input and in UTF-16
   * code units for string input.
   */
  readonly position?: number;
  readonly cause?: unknown;
}

/**
 * Thrown for any value that cannot be encoded as canonical JSON and any text the strict parser
 * rejects. Messages describe the kind of problem and where; they never quote string contents.
 */
export class CanonicalJsonError extends Error {
  /** What went wrong; see {@link CanonicalJsonErrorCode}. */
  readonly code: CanonicalJsonErrorCode;
  /** JSON path of the offending value (`$` is the root). */
  readonly path: string;
  /** Parser only: byte offset (bytes input) or UTF-16 offset (string input) of the problem. */
  readonly position: number | undefined;

  constructor(code: CanonicalJsonErrorCode, detail: string, options: CanonicalJsonErrorOptions) {
    const where =
      options.position === undefined
        ? `at ${options.path}`
        : `at ${options.path} (offset ${options.position})`;
    super(
      `${code}: ${detail} ${where}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'CanonicalJsonError';
    this.code = code;
    this.path = options.path;
    this.position = options.position;
  }

  /**
   * True for a `CanonicalJsonError` from any copy of this package (`instanceof` fails when two
   * copies are installed side by side, so this checks a registry-wide symbol instead).
   */
  static isInstance(error: unknown): error is CanonicalJsonError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as { [MARKER]?: unknown })[MARKER] === true
    );
  }

  /** Marker read by {@link CanonicalJsonError.isInstance}. */
  get [MARKER](): true {
    return true;
  }
}
