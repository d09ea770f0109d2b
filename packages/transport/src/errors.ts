/**
 * The one library-level error class of this package. HTTP-facing failures (what a server answers,
 * what a remote server answered) are {@link MatrixError}s instead; a `TransportError` says that
 * something went wrong below the Matrix API level: a malformed header, a network failure, a
 * timeout, a response that is not JSON.
 */

const MARKER = Symbol.for('weft.transport.error');

/**
 * What went wrong.
 *
 * - `bad-header`: an `Authorization: X-Matrix …` header that does not follow the spec's grammar.
 * - `network`: `fetch` failed (connection refused, reset, DNS…) on every allowed attempt.
 * - `timeout`: the request did not complete within its per-attempt timeout, on every attempt.
 * - `aborted`: the caller's `AbortSignal` fired; never retried.
 * - `bad-response`: a successful response whose body is not a JSON object.
 * - `bad-request`: a request the client refuses to send (its body cannot be encoded as
 *   canonical JSON, or a federation request without a destination).
 */
export type TransportErrorCode =
  | 'bad-header'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'bad-response'
  | 'bad-request';

/** Context carried by a {@link TransportError}. */
export interface TransportErrorOptions {
  /** HTTP method of the request concerned, if any. */
  readonly method?: string;
  /** Path of the request concerned, without its query string (which may hold a token). */
  readonly path?: string;
  /** How many attempts were made before giving up (client errors only). */
  readonly attempts?: number;
  readonly cause?: unknown;
}

/**
 * Thrown by this package for failures below the Matrix API level. Messages never include
 * access tokens, signatures or query strings.
 */
export class TransportError extends Error {
  /** What went wrong; see {@link TransportErrorCode}. */
  readonly code: TransportErrorCode;
  /** HTTP method of the request concerned, if any. */
  readonly method: string | undefined;
  /** Request path (never the query string), if any. */
  readonly path: string | undefined;
  /** Attempts made before giving up (client errors only). */
  readonly attempts: number | undefined;

  constructor(code: TransportErrorCode, detail: string, options: TransportErrorOptions = {}) {
    const where =
      options.method !== undefined && options.path !== undefined
        ? ` (${options.method} ${options.path})`
        : '';
    super(
      `${code}: ${detail}${where}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'TransportError';
    this.code = code;
    this.method = options.method;
    this.path = options.path;
    this.attempts = options.attempts;
  }

  /**
   * True for a `TransportError` from any copy of this package (`instanceof` fails when two
   * copies are installed side by side, so this checks a registry-wide symbol instead).
   */
  static isInstance(error: unknown): error is TransportError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as { [MARKER]?: unknown })[MARKER] === true
    );
  }

  /** Marker read by {@link TransportError.isInstance}. */
  get [MARKER](): true {
    return true;
  }
}
