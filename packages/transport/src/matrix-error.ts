/**
 * Matrix's "standard error response" (client-server API, "API Standards" > "Standard error
 * response", https://spec.matrix.org/v1.19/client-server-api/#standard-error-response): a JSON
 * object with `errcode` and `error`, plus extra keys some errcodes define (`retry_after_ms`,
 * `soft_logout`, `admin_contact`…), sent with an HTTP status.
 *
 * A server throws a `MatrixError` from a handler and the error handler turns it into exactly that
 * response; the client turns such a response back into a `MatrixError`.
 */

const MARKER = Symbol.for('weft.transport.matrix-error');

/**
 * The errcodes the spec lists as "Common error codes" and "Other error codes" that this layer
 * and typical endpoints use. Any other `M_…` or namespaced code (`COM.EXAMPLE_FOO`) is allowed
 * too: `MatrixError.errcode` is a plain string.
 */
export const ErrCode = Object.freeze({
  BAD_JSON: 'M_BAD_JSON',
  BAD_STATE: 'M_BAD_STATE',
  FORBIDDEN: 'M_FORBIDDEN',
  GUEST_ACCESS_FORBIDDEN: 'M_GUEST_ACCESS_FORBIDDEN',
  INCOMPATIBLE_ROOM_VERSION: 'M_INCOMPATIBLE_ROOM_VERSION',
  INVALID_PARAM: 'M_INVALID_PARAM',
  LIMIT_EXCEEDED: 'M_LIMIT_EXCEEDED',
  MISSING_PARAM: 'M_MISSING_PARAM',
  MISSING_TOKEN: 'M_MISSING_TOKEN',
  NOT_FOUND: 'M_NOT_FOUND',
  NOT_JSON: 'M_NOT_JSON',
  RESOURCE_LIMIT_EXCEEDED: 'M_RESOURCE_LIMIT_EXCEEDED',
  TOO_LARGE: 'M_TOO_LARGE',
  UNAUTHORIZED: 'M_UNAUTHORIZED',
  UNKNOWN: 'M_UNKNOWN',
  UNKNOWN_TOKEN: 'M_UNKNOWN_TOKEN',
  UNRECOGNIZED: 'M_UNRECOGNIZED',
  UNSUPPORTED_ROOM_VERSION: 'M_UNSUPPORTED_ROOM_VERSION',
  USER_DEACTIVATED: 'M_USER_DEACTIVATED',
  USER_IN_USE: 'M_USER_IN_USE',
  USER_LOCKED: 'M_USER_LOCKED',
  USER_SUSPENDED: 'M_USER_SUSPENDED',
} as const);

/** One of the errcodes in {@link ErrCode}. */
export type KnownErrCode = (typeof ErrCode)[keyof typeof ErrCode];

/** The JSON body of a standard error response. */
export interface MatrixErrorBody {
  readonly errcode: string;
  readonly error: string;
  readonly [extra: string]: unknown;
}

/** Options of the {@link MatrixError} constructor. */
export interface MatrixErrorOptions {
  /**
   * Extra keys of the response body, e.g. `{ retry_after_ms: 1500 }` or `{ soft_logout: true }`.
   * `errcode` and `error` here are ignored: they always come from the error itself.
   */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The underlying error; never sent to the client. */
  readonly cause?: unknown;
}

/**
 * An error at the Matrix API level: HTTP `status`, `errcode` and the human-readable `error`
 * message, which is sent to the client as is (so it must never hold a secret or internal detail).
 */
export class MatrixError extends Error {
  /** HTTP status code of the response, 400–599. */
  readonly status: number;
  /** The Matrix errcode, e.g. `M_FORBIDDEN`. */
  readonly errcode: string;
  /** Extra keys of the response body (never `errcode` or `error`). */
  readonly extra: Readonly<Record<string, unknown>>;
  /** Extra headers of the response. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, errcode: string, message: string, options: MatrixErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError('MatrixError status must be an integer in 400..599');
    }
    if (typeof errcode !== 'string' || errcode === '') {
      throw new TypeError('MatrixError errcode must be a non-empty string');
    }
    if (typeof message !== 'string') throw new TypeError('MatrixError message must be a string');
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MatrixError';
    this.status = status;
    this.errcode = errcode;
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options.extra ?? {})) {
      if (key !== 'errcode' && key !== 'error') extra[key] = value;
    }
    this.extra = Object.freeze(extra);
    this.headers = Object.freeze({ ...options.headers });
  }

  /** `retry_after_ms` of an `M_LIMIT_EXCEEDED` error, when present and a non-negative integer. */
  get retryAfterMs(): number | undefined {
    const value = this.extra['retry_after_ms'];
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
      ? value
      : undefined;
  }

  /** `soft_logout` of an `M_UNKNOWN_TOKEN` error (spec "Soft logout": defaults to false). */
  get softLogout(): boolean {
    return this.extra['soft_logout'] === true;
  }

  /** The response body: `{ errcode, error, ...extra }`. */
  toJSON(): MatrixErrorBody {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }

  /**
   * Builds the error a server answered with: `body` is the parsed response (anything); without
   * a string `errcode` it becomes `M_UNKNOWN` with the HTTP status as the message, since the spec
   * tells clients to trust the status then ("Standard error response").
   */
  static fromResponse(status: number, body: unknown, headers?: Headers): MatrixError {
    const safeStatus = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
    const retryAfter = headers?.get('retry-after');
    const extraHeaders = retryAfter ? { 'Retry-After': retryAfter } : undefined;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const record = body as Record<string, unknown>;
      const errcode = record['errcode'];
      const error = record['error'];
      if (typeof errcode === 'string' && errcode !== '') {
        return new MatrixError(
          safeStatus,
          errcode,
          typeof error === 'string' ? error : `HTTP ${status}`,
          extraHeaders ? { extra: record, headers: extraHeaders } : { extra: record },
        );
      }
    }
    return new MatrixError(
      safeStatus,
      ErrCode.UNKNOWN,
      `HTTP ${status}`,
      extraHeaders ? { headers: extraHeaders } : {},
    );
  }

  /**
   * True for a `MatrixError` from any copy of this package (checks a registry-wide symbol, since
   * `instanceof` fails across duplicated installs).
   */
  static isInstance(error: unknown): error is MatrixError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as { [MARKER]?: unknown })[MARKER] === true
    );
  }

  /** Marker read by {@link MatrixError.isInstance}. */
  get [MARKER](): true {
    return true;
  }

  /** 400 `M_BAD_JSON`: valid JSON of the wrong shape (missing keys, wrong value types). */
  static badJson(message = 'Malformed request body'): MatrixError {
    return new MatrixError(400, ErrCode.BAD_JSON, message);
  }

  /** 400 `M_NOT_JSON`: the request body is not valid JSON. */
  static notJson(message = 'Request body is not valid JSON'): MatrixError {
    return new MatrixError(400, ErrCode.NOT_JSON, message);
  }

  /** 403 `M_FORBIDDEN`. */
  static forbidden(message = 'Forbidden'): MatrixError {
    return new MatrixError(403, ErrCode.FORBIDDEN, message);
  }

  /** 401 `M_MISSING_TOKEN`: no access token was supplied (spec "Using access tokens"). */
  static missingToken(message = 'Missing access token'): MatrixError {
    return new MatrixError(401, ErrCode.MISSING_TOKEN, message);
  }

  /**
   * 401 `M_UNKNOWN_TOKEN`: the token is not recognised; `softLogout: true` adds
   * `soft_logout: true` (spec "Soft logout").
   */
  static unknownToken(
    message = 'Unrecognised access token',
    options: { readonly softLogout?: boolean } = {},
  ): MatrixError {
    return new MatrixError(401, ErrCode.UNKNOWN_TOKEN, message, {
      extra: { soft_logout: options.softLogout === true },
    });
  }

  /** 401 `M_UNAUTHORIZED`: the request was not correctly authorised (e.g. X-Matrix failed). */
  static unauthorized(message = 'Unauthorized'): MatrixError {
    return new MatrixError(401, ErrCode.UNAUTHORIZED, message);
  }

  /** 404 `M_NOT_FOUND`: no resource was found for this request. */
  static notFound(message = 'Not found'): MatrixError {
    return new MatrixError(404, ErrCode.NOT_FOUND, message);
  }

  /**
   * `M_UNRECOGNIZED`: 404 for an endpoint we don't implement, 405 for a known endpoint with the
   * wrong method (spec "Common error codes", and server-server API "Unsupported endpoints").
   */
  static unrecognized(status: 404 | 405 = 404, message = 'Unrecognized request'): MatrixError {
    return new MatrixError(status, ErrCode.UNRECOGNIZED, message);
  }

  /**
   * 429 `M_LIMIT_EXCEEDED` with `retry_after_ms` and a `Retry-After` header in whole seconds,
   * rounded up (spec "Rate limiting": the header SHOULD be sent, the body field MAY).
   */
  static limitExceeded(retryAfterMs: number, message = 'Too many requests'): MatrixError {
    if (!Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
      throw new RangeError('retryAfterMs must be a non-negative finite number');
    }
    const ms = Math.ceil(retryAfterMs);
    return new MatrixError(429, ErrCode.LIMIT_EXCEEDED, message, {
      extra: { retry_after_ms: ms },
      headers: { 'Retry-After': String(Math.ceil(ms / 1000)) },
    });
  }

  /** 413 `M_TOO_LARGE`: the request or entity was too large. */
  static tooLarge(message = 'Request body too large'): MatrixError {
    return new MatrixError(413, ErrCode.TOO_LARGE, message);
  }

  /** 400 `M_INVALID_PARAM`: a parameter has the wrong value. */
  static invalidParam(message = 'Invalid parameter'): MatrixError {
    return new MatrixError(400, ErrCode.INVALID_PARAM, message);
  }

  /** 400 `M_MISSING_PARAM`: a required parameter is missing. */
  static missingParam(message = 'Missing parameter'): MatrixError {
    return new MatrixError(400, ErrCode.MISSING_PARAM, message);
  }

  /** 500 `M_UNKNOWN`: what every unexpected failure becomes; its details stay in the log. */
  static unknown(message = 'Internal server error', status = 500): MatrixError {
    return new MatrixError(status, ErrCode.UNKNOWN, message);
  }
}
