/**
 * X-Matrix authentication as a Hono middleware, for federation routes a server defines with
 * Hono directly rather than through `createMatrixApp().endpoint()`.
 *
 * The signature covers the request body, so the middleware reads it (size-limited) and parses it
 * strictly; the handler gets the parsed body from `c.get('matrixBody')` and the verified origin
 * from `c.get('matrixOrigin')`. Refusals follow the server-server API: 401 `M_UNAUTHORIZED` for a
 * missing, malformed or invalid signature or a wrong destination; 403 `M_FORBIDDEN` for an origin
 * the server does not allow.
 */
import type { MiddlewareHandler } from 'hono';

import type { FederationOptions } from './app.ts';
import { DEFAULT_MAX_BODY_BYTES, parseJsonBody, readBodyBytes } from './body.ts';
import { MatrixError } from './matrix-error.ts';
import { requestTargetOf } from './request-target.ts';
import { verifyRequest, xMatrixRefusal } from './x-matrix.ts';

/** The context variables {@link xMatrixMiddleware} sets. */
export interface XMatrixVariables {
  /** The server whose signature verified. */
  matrixOrigin: string;
  /** The parsed JSON body, `undefined` when the request had none. */
  matrixBody: Record<string, unknown> | undefined;
}

/** Options of {@link xMatrixMiddleware}. */
export interface XMatrixMiddlewareOptions extends FederationOptions {
  /** Request body size limit in bytes. Default 4 MiB. */
  readonly maxBodyBytes?: number;
}

/** Middleware that admits only requests carrying a valid X-Matrix signature for us. */
export function xMatrixMiddleware(
  options: XMatrixMiddlewareOptions,
): MiddlewareHandler<{ Variables: XMatrixVariables }> {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (c, next) => {
    const request = c.req.raw;
    const raw = await readBodyBytes(request, maxBody);
    const content = raw.byteLength > 0 ? parseJsonBody(raw) : undefined;
    const result = await verifyRequest(
      {
        method: request.method,
        // The target as received: what the sender signed (URL parsing would normalise it).
        uri: requestTargetOf(request, c.env),
        authorization: request.headers.get('authorization'),
        content,
      },
      options.serverName,
      options.lookupKey,
    );
    if (!result.valid) throw xMatrixRefusal(result.reason);
    if (options.isOriginAllowed !== undefined && !(await options.isOriginAllowed(result.origin))) {
      throw MatrixError.forbidden('Server is not allowed to use this API');
    }
    c.set('matrixOrigin', result.origin);
    c.set('matrixBody', content);
    await next();
  };
}
