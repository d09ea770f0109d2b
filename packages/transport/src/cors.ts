/**
 * CORS for web clients, as the client-server API's "Web Browser Clients" section recommends
 * (https://spec.matrix.org/v1.19/client-server-api/#web-browser-clients): the same three headers
 * on every response, and `OPTIONS` requests answered without running any endpoint logic ("the
 * server MUST NOT perform any logic defined for the endpoints when approached with an OPTIONS
 * request"), hence before authentication. `createMatrixApp` writes these headers where it builds
 * each response and answers `OPTIONS` on its own route (app.ts); a middleware doing the same on
 * finished responses was dropped: nothing used it, and it cost every request a `Headers` round
 * trip (ARCHITECTURE.md, decision record of 06:20).
 */

/** The recommended CORS headers, verbatim from the spec. */
export const CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
});

/**
 * `response` with `headers` added: set in place, or on a copy when its headers are immutable
 * (e.g. a Response proxied from fetch).
 */
export function withHeaders(
  response: Response,
  headers: Readonly<Record<string, string>>,
): Response {
  const entries = Object.entries(headers);
  if (entries.length === 0) return response;
  try {
    for (const [name, value] of entries) response.headers.set(name, value);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const [name, value] of entries) copy.headers.set(name, value);
    return copy;
  }
}
