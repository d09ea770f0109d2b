/**
 * The request target as the client sent it: @hono/node-server's `env.incoming.url` (Node's raw
 * target) when there is one, else the path and query of the fetch `Request`'s URL — which URL
 * parsing has normalised (dot segments removed, some characters percent-encoded).
 */
export function requestTargetOf(request: Request, env: unknown): string {
  const incoming = (env as { incoming?: { url?: unknown } } | undefined)?.incoming;
  if (typeof incoming?.url === 'string' && incoming.url.startsWith('/')) return incoming.url;
  const url = new URL(request.url);
  return url.pathname + url.search;
}
