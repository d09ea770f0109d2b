/**
 * CORS for web clients, as the client-server API's "Web Browser Clients" section recommends
 * (https://spec.matrix.org/v1.19/client-server-api/#web-browser-clients): the same three headers
 * on every response, and `OPTIONS` requests answered without running any endpoint logic ("the
 * server MUST NOT perform any logic defined for the endpoints when approached with an OPTIONS
 * request"), hence before authentication.
 */
import type { MiddlewareHandler } from 'hono';

/** The recommended CORS headers, verbatim from the spec. */
export const CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
});

/**
 * Middleware answering every `OPTIONS` request with 204 and adding {@link CORS_HEADERS} to every
 * response (errors included). With `cors: false` it still answers `OPTIONS`, without headers.
 */
export function corsMiddleware(cors = true): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') {
      return new Response(null, { status: 204, headers: cors ? CORS_HEADERS : {} });
    }
    await next();
    if (!cors) return;
    // A handler may return a Response with immutable headers (e.g. one proxied from fetch).
    let response = c.res;
    try {
      for (const [name, value] of Object.entries(CORS_HEADERS)) response.headers.set(name, value);
    } catch {
      response = new Response(response.body, response);
      for (const [name, value] of Object.entries(CORS_HEADERS)) response.headers.set(name, value);
      c.res = undefined;
      c.res = response;
    }
  };
}
