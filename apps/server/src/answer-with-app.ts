/**
 * Answers a request the HTTP thread handed over (http-thread.ts) with the Hono app: a fetch
 * `Request` in, its `Response` read whole and sent back. The long-poll's client goes along as
 * `context.env.client` (api/client/sync.ts).
 */
import { CORS_HEADERS, MatrixError, matrixErrorAnswer } from '@weft/transport';

import type { BridgedRequest } from './http-thread.ts';
import type { Log } from './log.ts';

/** What the app offers: Hono's `fetch` with an environment. */
export type AppFetch = (request: Request, env: { client: unknown }) => Response | Promise<Response>;

/** Answers requests with `fetch`; `host` stands in for a request without a `Host` header. */
export function answerWithApp(
  fetch: AppFetch,
  host: string,
  log: Log,
): (request: BridgedRequest) => Promise<void> {
  const fallbackHost = host.includes(':') ? `[${host}]` : host;
  return async (request) => {
    let fetchRequest: Request;
    try {
      fetchRequest = toFetchRequest(request, fallbackHost);
    } catch {
      // An origin-form target and a Host header that make no URL (Node's parser lets some
      // through): the request is malformed, not the server.
      request.respond(
        matrixErrorAnswer(
          new MatrixError(400, 'M_UNRECOGNIZED', 'Malformed request target'),
          CORS_HEADERS,
        ),
      );
      return;
    }
    try {
      const response = await fetch(fetchRequest, { client: request.client });
      const body = new Uint8Array(await response.arrayBuffer());
      request.respond({ status: response.status, headers: [...response.headers], body });
    } catch (error) {
      // The app's error handler answers every error it sees; this is a failure around it.
      log.error('unhandled error answering a request', { method: request.method, error });
      request.respond(matrixErrorAnswer(MatrixError.unknown(), CORS_HEADERS));
    }
  };
}

/** The fetch `Request` of a handed-over request (headers as received, repeated ones joined). */
function toFetchRequest(request: BridgedRequest, fallbackHost: string): Request {
  // A target that is not a path (`*`, an absolute URL Node passed through) would change origin.
  if (!request.url.startsWith('/')) throw new TypeError('not an origin-form target');
  const raw = request.rawHeaders;
  const headers: [string, string][] = [];
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (host === undefined && name.length === 4 && name.toLowerCase() === 'host') host = value;
    headers.push([name, value]);
  }
  // The URL as a string: `Request` parses it once (a `URL` object would be parsed twice).
  const url = `http://${host ?? fallbackHost}${request.url}`;
  const body = request.body as Uint8Array<ArrayBuffer> | undefined;
  return new Request(
    url,
    body === undefined
      ? { method: request.method, headers }
      : { method: request.method, headers, body },
  );
}
