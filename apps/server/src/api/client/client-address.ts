/**
 * The client's address of a request, for handlers (login's failure limiter): the rate-limit key
 * function (app.ts) works it out — the peer's address, or the right-most `X-Forwarded-For` hop
 * not vouched for by a trusted proxy — and records it here against the request's context.
 * Recorded only for endpoints declared `rateLimit: true` and requests without a user or origin.
 */
import type { Context } from 'hono';

const addresses = new WeakMap<Context, string>();

export function recordClientAddress(context: Context, address: string): void {
  addresses.set(context, address);
}

/** The client's address of the request `context` belongs to; `undefined` when unknown. */
export function clientAddressOf(context: Context): string | undefined {
  return addresses.get(context);
}

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy, the right-most
 * `X-Forwarded-For` hop not itself trusted (transport's own rule for rate-limit keys).
 */
export function forwardedClient(
  peer: string | undefined,
  headers: { get(name: string): string | null },
  trusted: ((address: string) => boolean) | undefined,
): string | undefined {
  if (peer === undefined || trusted === undefined || !trusted(peer)) return peer;
  const forwarded = headers.get('x-forwarded-for');
  if (forwarded === null) return peer;
  const hops = forwarded.split(',');
  let address = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim();
    if (hop === '') break;
    address = hop;
    if (!trusted(hop)) break;
  }
  return address;
}
