/**
 * The one error class of @weft/ratchet. Every protocol failure (malformed input, failed MAC or
 * signature, unknown index, bad pickle …) is a `RatchetError` with a machine-readable `code`.
 * Messages and context never contain key material, plaintext or ciphertext bytes.
 */

/** Why a ratchet operation failed. */
export type RatchetErrorCode =
  | 'bad-base64'
  | 'bad-message-format'
  | 'unsupported-version'
  | 'bad-mac'
  | 'bad-padding'
  | 'bad-signature'
  | 'unknown-message-index'
  | 'too-many-skipped-keys'
  | 'duplicate-message'
  | 'bad-pickle'
  | 'bad-key'
  | 'unknown-one-time-key'
  | 'session-mismatch'
  | 'session-exhausted';

/** Non-secret facts about the failure (lengths, indices, versions, kinds). */
export type RatchetErrorContext = Readonly<Record<string, string | number | boolean>>;

const marker = Symbol.for('weft.ratchet.error');

/** A typed failure of an Olm/Megolm operation; check `code`, not the message. */
export class RatchetError extends Error {
  /** Machine-readable reason. */
  readonly code: RatchetErrorCode;
  /** Non-secret details, e.g. `{ expected: 3, got: 4 }` for a version mismatch. */
  readonly context: RatchetErrorContext;

  constructor(
    code: RatchetErrorCode,
    message: string,
    options: { cause?: unknown; context?: RatchetErrorContext } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RatchetError';
    this.code = code;
    this.context = options.context ?? {};
    Object.defineProperty(this, marker, { value: true });
  }

  /** True for any RatchetError, even one created by a second copy of this package. */
  static isInstance(error: unknown): error is RatchetError {
    return typeof error === 'object' && error !== null && marker in error;
  }
}
