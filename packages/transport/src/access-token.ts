/**
 * Access tokens (client-server API, "Using access tokens",
 * https://spec.matrix.org/v1.19/client-server-api/#using-access-tokens): sent as
 * `Authorization: Bearer <token>`. Spec versions up to v1.19 also allowed an `access_token` query
 * parameter; v1.20 dropped it, but clients such as matrix-nio still send it, so it is accepted
 * unless the server turns it off, the way Synapse does.
 */
import type { HeaderLookup } from './header-object.ts';
import { MatrixError } from './matrix-error.ts';

/** Options of {@link extractAccessToken}. */
export interface AccessTokenOptions {
  /** Accept the legacy `access_token` query parameter. Default `true`. */
  readonly allowQueryParameter?: boolean;
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b68token; the scheme is case-insensitive
// (RFC 9110 §11.1). Tokens are opaque to us, so any visible ASCII is taken as is.
const BEARER = /^bearer +([\x21-\x7e]+) *$/i;

/**
 * The access token of `request`, or `undefined` when none was sent. Throws 401
 * `M_MISSING_TOKEN` when the request is ambiguous: a Bearer header and a query parameter both
 * present, the query parameter repeated, or a malformed Bearer header (Synapse refuses these
 * too, rather than picking one).
 */
export function extractAccessToken(
  request: Request,
  options: AccessTokenOptions = {},
): string | undefined {
  return accessTokenOf(request.headers, new URL(request.url).searchParams, options);
}

/** {@link extractAccessToken} on an already parsed URL (the app parses it once per request). */
export function accessTokenOf(
  headers: HeaderLookup,
  query: URLSearchParams,
  options: AccessTokenOptions,
): string | undefined {
  const header = headers.get('authorization');
  let fromHeader: string | undefined;
  if (header !== null && /^bearer(\s|$)/i.test(header)) {
    const match = BEARER.exec(header);
    if (!match?.[1]) throw MatrixError.missingToken('Malformed Authorization header');
    fromHeader = match[1];
  }
  // The common case, a header and no query token, allocates nothing more.
  if (options.allowQueryParameter === false || !query.has('access_token')) return fromHeader;
  const fromQueries = query.getAll('access_token');
  if (fromQueries.length > 1) {
    throw MatrixError.missingToken('Too many access_token query parameters');
  }
  const fromQuery = fromQueries[0];
  if (fromQuery !== undefined && fromHeader !== undefined) {
    throw MatrixError.missingToken(
      'Mixing Authorization headers and access_token query parameters',
    );
  }
  if (fromQuery === '') return undefined;
  return fromHeader ?? fromQuery;
}

/**
 * Compares two strings in time that depends only on their lengths, for a server that compares a
 * presented secret (e.g. an appservice `hs_token`) with a stored one.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') {
    throw new TypeError('constantTimeEqual expects two strings');
  }
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  const length = Math.max(x.length, y.length);
  for (let i = 0; i < length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
