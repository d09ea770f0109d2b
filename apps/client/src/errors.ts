/**
 * The one error class of the client SDK. Every failure the SDK reports on purpose is a
 * `ClientError` with a `code`; messages and context carry IDs only, never keys or plaintext.
 */

const MARKER = Symbol.for('weft.client.error');

/** Why a client operation failed. */
export type ClientErrorCode =
  | 'wrong-passphrase'
  | 'store-corrupt'
  | 'not-logged-in'
  | 'registration-failed'
  | 'unknown-room'
  | 'missing-key'
  | 'decrypt-failed'
  | 'replayed-message'
  | 'untrusted-sender'
  | 'olm-failed'
  | 'device-keys-invalid'
  | 'send-failed'
  | 'homeserver-mismatch'
  | 'logged-out'
  | 'store-locked';

/** Public context attached to a {@link ClientError} (IDs only). */
export interface ClientErrorContext {
  readonly roomId?: string;
  readonly eventId?: string;
  readonly sessionId?: string;
  readonly userId?: string;
  readonly deviceId?: string;
}

/** A typed failure of the Weft client SDK. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  readonly context: ClientErrorContext;

  constructor(
    code: ClientErrorCode,
    message: string,
    context: ClientErrorContext = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.code = code;
    this.context = context;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for a `ClientError` from any copy of this package (checks a global symbol marker). */
  static isInstance(value: unknown): value is ClientError {
    return typeof value === 'object' && value !== null && MARKER in value;
  }
}
