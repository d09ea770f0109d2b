/**
 * Maps anything a handler throws to a standard error response (client-server API "Standard error
 * response"). A `MatrixError` goes out as it is; Hono's own `HTTPException`s keep their status
 * with the matching errcode; everything else is 500 `M_UNKNOWN` with a fixed message, and the
 * real error goes only to the logger: no stack trace or internal detail reaches the client.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';

import { JSON_CONTENT_TYPE, mergeHeaders } from './header-object.ts';
import type { Logger } from './logger.ts';
import { ErrCode, MatrixError } from './matrix-error.ts';
import { requestPath } from './request-path.ts';

// Errcodes for the statuses Hono's own middleware raises.
const ERRCODE_FOR_STATUS: Readonly<Record<number, string>> = {
  401: ErrCode.UNAUTHORIZED,
  403: ErrCode.FORBIDDEN,
  404: ErrCode.NOT_FOUND,
  405: ErrCode.UNRECOGNIZED,
  413: ErrCode.TOO_LARGE,
  429: ErrCode.LIMIT_EXCEEDED,
};

/**
 * The `MatrixError` to answer with for `error`. `HTTPException`s map by status (413 →
 * `M_TOO_LARGE`, …; others `M_UNKNOWN`) with a generic message; anything else is `undefined`,
 * meaning "unexpected: log it and answer 500".
 */
export function toMatrixError(error: unknown): MatrixError | undefined {
  if (MatrixError.isInstance(error)) return error;
  if (error instanceof HTTPException) {
    const status = error.status >= 400 && error.status <= 599 ? error.status : 500;
    const errcode = ERRCODE_FOR_STATUS[status] ?? ErrCode.UNKNOWN;
    return new MatrixError(status, errcode, `HTTP ${status}`, { cause: error });
  }
  return undefined;
}

/**
 * A JSON response carrying a standard error body, with the error's extra headers and
 * `baseHeaders` (e.g. CORS headers). Field names match in any letter case: the error's own
 * replace base ones, and the JSON content type replaces both.
 */
export function matrixErrorResponse(
  error: MatrixError,
  baseHeaders: Readonly<Record<string, string>> = {},
): Response {
  const { status, headers, body } = matrixErrorAnswer(error, baseHeaders);
  return new Response(body, { status, headers });
}

/**
 * What {@link matrixErrorResponse} answers, as plain parts: for a server that writes some
 * answers to Node's response itself (apps/server's `/sync` fast path), so both answer alike.
 */
export function matrixErrorAnswer(
  error: MatrixError,
  baseHeaders: Readonly<Record<string, string>> = {},
): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: error.status,
    headers: mergeHeaders(baseHeaders, error.headers, JSON_CONTENT_TYPE),
    body: JSON.stringify(error.toJSON()),
  };
}

/**
 * A Hono `onError` handler: `app.onError(matrixErrorHandler(logger))`. Unexpected errors are
 * passed to `logger.error` with the method and the path (never the query string). Every answer
 * also carries `baseHeaders`.
 */
export function matrixErrorHandler(
  logger?: Logger,
  baseHeaders: Readonly<Record<string, string>> = {},
): (error: Error, c: Context) => Response | Promise<Response> {
  return (error, c) => {
    const matrixError = toMatrixError(error);
    if (matrixError !== undefined) return matrixErrorResponse(matrixError, baseHeaders);
    try {
      logger?.error('unhandled error in request handler', {
        method: c.req.method,
        path: requestPath(c.req.url),
        error,
      });
    } catch {
      // A failing logger must not turn a 500 into a crash.
    }
    return matrixErrorResponse(MatrixError.unknown(), baseHeaders);
  };
}
