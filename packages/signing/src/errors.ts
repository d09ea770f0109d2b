/**
 * The one error class of `@weft/signing`.
 *
 * Errors carry a machine-readable `code`, the JSON path or key identifier involved, and the
 * underlying `cause`. Messages never contain secret material (seeds, private keys): at most a
 * public key identifier or a server name.
 */

/** Every reason `@weft/signing` can refuse an input. */
export type SigningErrorCode =
  /** A string is not valid unpadded Base64 (bad character, impossible length, non-zero trailing bits). */
  | 'bad-base64'
  /** A key (seed or public key) has the wrong length or form, or a key identifier is malformed. */
  | 'bad-key'
  /** A signature is present but does not verify. */
  | 'bad-signature'
  /** The object carries no signature from the required entity under a usable key identifier. */
  | 'missing-signature'
  /** The verification key for a signature could not be found. */
  | 'missing-key'
  /** The event's `hashes.sha256` does not match its content: only its redacted form may be used. */
  | 'content-hash-mismatch'
  /** The room version has no rules in this package (supported: 10, 11, 12). */
  | 'unsupported-room-version'
  /** An event or server-key object does not have the shape the algorithm needs. */
  | 'bad-event'
  /** The value cannot be encoded as canonical JSON (see `@weft/canonical-json`). */
  | 'bad-json';

const MARKER = Symbol.for('weft.signing.error');

/** Context carried by a {@link SigningError}. */
export interface SigningErrorContext {
  /** Where in the input the problem is, as a JSON path such as `$.signatures["example.org"]`. */
  readonly path?: string;
  /** The key identifier involved (public, e.g. `ed25519:abc`). */
  readonly keyId?: string;
  /** The signing entity involved (a server name or user ID). */
  readonly entity?: string;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * Thrown by every function of `@weft/signing` for a malformed or unverifiable input. Argument-type
 * misuse (a number where bytes are expected) throws `TypeError`/`RangeError` instead.
 */
export class SigningError extends Error {
  /** What went wrong, as a stable string. */
  readonly code: SigningErrorCode;
  /** JSON path of the offending value, when there is one. */
  readonly path: string | undefined;
  /** Key identifier involved, when there is one. */
  readonly keyId: string | undefined;
  /** Signing entity involved, when there is one. */
  readonly entity: string | undefined;

  constructor(code: SigningErrorCode, message: string, context: SigningErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'SigningError';
    this.code = code;
    this.path = context.path;
    this.keyId = context.keyId;
    this.entity = context.entity;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /**
   * True for any `SigningError`, including one from another copy of this package (duplicated
   * installs break `instanceof`, so this checks a `Symbol.for` marker instead).
   */
  static isInstance(error: unknown): error is SigningError {
    return typeof error === 'object' && error !== null && MARKER in error;
  }
}
