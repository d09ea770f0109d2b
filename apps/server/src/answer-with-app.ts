/**
 * Answers a request the HTTP thread handed over (http-thread.ts) with the Hono app: a fetch
 * `Request` in, its `Response` read whole and sent back. The long-poll's client goes along as
 * `context.env.client` (api/client/sync.ts).
 */
import { parseAnyJson } from '@weft/canonical-json';
import { CORS_HEADERS, MatrixError, matrixErrorAnswer } from '@weft/transport';

import type { BridgedRequest } from './http-thread.ts';
import type { Log } from './log.ts';

/** What the app offers: Hono's `fetch` with an environment. */
export type AppFetch = (request: Request, env: { client: unknown }) => Response | Promise<Response>;

/**
 * Answers requests with `fetch`. The URL the app sees is built on `host` (the listen address),
 * not on the request's `Host` header: the app reads only paths and queries, and a `Host` such
 * as `x/other/path?` would otherwise change the path it routes.
 */
export function answerWithApp(
  fetch: AppFetch,
  host: string,
  log: Log,
): (request: BridgedRequest) => Promise<void> {
  const origin = `http://${host.includes(':') ? `[${host}]` : host}`;
  return async (request) => {
    let fetchRequest: Request;
    try {
      fetchRequest = toFetchRequest(request, origin);
    } catch {
      // A target that is not a plain path: the request is malformed, not the server.
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
function toFetchRequest(request: BridgedRequest, origin: string): Request {
  // Origin-form only (`/path?query`): `*`, an absolute URL, or a backslash (which URL parsing
  // reads as a slash) would make the app see another path than the one sent.
  if (!request.url.startsWith('/') || request.url.includes('\\')) {
    throw new TypeError('not an origin-form target');
  }
  const raw = request.rawHeaders;
  const headers: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i] as string, raw[i + 1] as string]);
  // The URL as a string: `Request` parses it once (a `URL` object would be parsed twice).
  const init = { method: request.method, headers };
  const body = request.body;
  return body === undefined
    ? new Request(origin + request.url, init)
    : (new ReadRequest(origin + request.url, init, body) as unknown as Request);
}

/**
 * A fetch `Request` whose body the HTTP thread has already read. It is built without one and
 * hands out the bytes it holds: a `Request` built with a body wraps it in a web stream, and
 * reading it back through that stream cost the main thread ≈ 13 µs of its ≈ 20 µs per send
 * (measured 2026-11-29, session 9). Not `Request.prototype` itself, so transport's
 * `readBodyBytes` takes the whole-body `arrayBuffer()` route when a `Content-Length` frames
 * it, and reads `body` (a stream of the same bytes) otherwise.
 */
class ReadRequest extends (Request as new (url: string, init: RequestInit) => object) {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;

  constructor(url: string, init: RequestInit, bytes: Uint8Array) {
    super(url, init);
    this.#bytes = bytes as Uint8Array<ArrayBuffer>;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#stream ??= new Blob([this.#bytes]).stream();
    return this.#stream;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#bytes;
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    return Promise.resolve(whole ? bytes.buffer : bytes.slice().buffer);
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return Promise.resolve(this.#bytes.slice());
  }

  text(): Promise<string> {
    return Promise.resolve(new TextDecoder().decode(this.#bytes));
  }

  json(): Promise<unknown> {
    return this.text().then(parseAnyJson);
  }

  blob(): Promise<Blob> {
    return Promise.resolve(
      new Blob([this.#bytes], {
        type: (this as unknown as Request).headers.get('content-type') ?? '',
      }),
    );
  }
}
