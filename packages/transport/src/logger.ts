/**
 * The logger a server hands to this package. Only failures the client must not see in detail
 * (unexpected exceptions, turned into 500 `M_UNKNOWN`) are logged; context never includes the
 * query string, headers or body, where access tokens and signatures travel.
 */

/** What is logged with a message. */
export interface LogContext {
  /** HTTP method of the request. */
  readonly method: string;
  /** Request path, without the query string (which may carry an `access_token`). */
  readonly path: string;
  /** The thrown value. */
  readonly error: unknown;
}

/** A caller-supplied logger; `console` fits. */
export interface Logger {
  /** An unexpected failure (the client got 500 `M_UNKNOWN`). */
  error(message: string, context: LogContext): void;
}
