/**
 * `GET https://<hostname>/.well-known/matrix/server` (spec server-server-api "Server
 * discovery", wellknown.yaml): "Servers should follow 30x redirects, carefully avoiding redirect
 * loops, and use normal X.509 certificate validation". Up to {@link MAX_REDIRECTS} redirects are
 * followed — https only, each through the same fetch (so the same address policy and TLS checks);
 * the body is read up to {@link MAX_WELL_KNOWN_BYTES} (a delegation is a few dozen bytes; an
 * endless body must not fill memory). The answer carries how long it may be cached: its
 * `Cache-Control` max-age, else 24 hours, never more than 48 (spec "Resolving server names").
 */
import { parseAnyJson } from '@weft/canonical-json';
import { readLimitedChunks } from '@weft/transport';

export const MAX_REDIRECTS = 5;
export const MAX_WELL_KNOWN_BYTES = 64 * 1024;
export const WELL_KNOWN_DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;
export const WELL_KNOWN_MAX_TTL_MS = 48 * 60 * 60 * 1000;

/** A parsed `.well-known/matrix/server` body and how long it may be cached. */
export class WellKnownResponse {
  readonly body: unknown;
  readonly maxAgeMs: number;

  constructor(body: unknown, maxAgeMs: number) {
    this.body = body;
    this.maxAgeMs = maxAgeMs;
  }
}

/** The cache lifetime `Cache-Control` allows (default 24 h, capped at 48 h; no-store → 0). */
export function wellKnownTtl(cacheControl: string | null): number {
  if (cacheControl === null) return WELL_KNOWN_DEFAULT_TTL_MS;
  const directives = cacheControl
    .toLowerCase()
    .split(',')
    .map((part) => part.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return 0;
  for (const directive of directives) {
    const match = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
    if (match?.[1] !== undefined) {
      return Math.min(Number(match[1]) * 1000, WELL_KNOWN_MAX_TTL_MS);
    }
  }
  return WELL_KNOWN_DEFAULT_TTL_MS;
}

/**
 * Fetches `url`, following redirects; `undefined` for a non-2xx answer, too many redirects or a
 * redirect elsewhere than https. Rejects on network errors, a body over the limit or bad JSON.
 */
export async function fetchWellKnown(
  fetchFn: typeof fetch,
  url: string,
  timeoutMs = 10_000,
): Promise<WellKnownResponse | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  let current = new URL(url);
  const seen = new Set<string>();
  for (let hop = 0; ; hop += 1) {
    seen.add(current.href);
    const response = await fetchFn(current, { signal, redirect: 'manual' });
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (location === null || hop >= MAX_REDIRECTS) return undefined;
      const next = new URL(location, current);
      // A loop, or a redirect off https (no X.509 validation there): no usable .well-known.
      if (next.protocol !== 'https:' || seen.has(next.href)) return undefined;
      current = next;
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const bytes =
      response.body === null
        ? new Uint8Array()
        : await readLimitedChunks(
            response.body,
            MAX_WELL_KNOWN_BYTES,
            () => new RangeError(`.well-known body over ${MAX_WELL_KNOWN_BYTES} bytes`),
          );
    const body = parseAnyJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return new WellKnownResponse(body, wellKnownTtl(response.headers.get('cache-control')));
  }
}
