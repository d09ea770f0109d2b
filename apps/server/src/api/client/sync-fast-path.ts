/**
 * The long-poll's own way in: a `GET /sync` with a Bearer token the server already knows is
 * answered straight from Node's request and response, without the Hono app. Each event reaches
 * every member of its room through one such request, so this is the server's most frequent
 * request by far, and Hono's per-request objects (a Request, a Context, a Response and the
 * adapter's promises, route matching, a URL built and parsed) were ≈ 7% of its main thread
 * under the sync load (decision record of session 6 in ARCHITECTURE.md).
 *
 * Everything else goes to the app unchanged: other paths and methods, a token in the query or a
 * header of another form, a token not in the cache (the app authenticates it, caching it for the
 * next request), and a query the reader refuses (the app answers with the same error). Once the
 * sync has started, its errors are answered here as the app's error handler answers them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { CORS_HEADERS, MatrixError, matrixErrorAnswer, toMatrixError } from '@weft/transport';

import type { Log } from '../../log.ts';
import type { AuthenticatedUser } from '../../services/core/context.ts';
import type { Services } from '../../services/index.ts';
import type { SyncRequest } from '../../services/sync/service.ts';
import { ResponseClient, syncRequestReader } from './sync.ts';

/** The paths of `GET /sync` (matrix-nio calls the legacy r0 one). */
const SYNC_PATHS: ReadonlySet<string> = new Set([
  '/_matrix/client/v3/sync',
  '/_matrix/client/r0/sync',
]);

/** A Bearer header as transport's `accessTokenOf` reads it; any other form goes to the app. */
const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** Every answer's headers: the app's CORS headers and JSON (spec "Web Browser Clients"). */
const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...CORS_HEADERS,
  'Content-Type': 'application/json',
});

/**
 * A request listener that answers a known-token `GET /sync` and returns true, or returns false
 * (having read nothing from the request) for the app to answer it.
 */
export function syncFastPath(
  services: Services,
  log: Log,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const readRequest = syncRequestReader((userId, filterId) =>
    services.filters.getFilter(userId, filterId),
  );
  const take = (request: IncomingMessage, response: ServerResponse): boolean => {
    if (request.method !== 'GET') return false;
    const url = request.url ?? '';
    const mark = url.indexOf('?');
    if (!SYNC_PATHS.has(mark === -1 ? url : url.slice(0, mark))) return false;
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined || hasSecondAuthorization(request.rawHeaders)) return false;
    const query = new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1));
    if (query.has('access_token')) return false;
    // Only a token the cache knows, whose device needs no last-seen write: anything else is the
    // app's to authenticate (asking here too would read the database twice for one request).
    const user = services.accounts.cachedUser(token);
    if (user === undefined) return false;
    let read: SyncRequest | Promise<SyncRequest>;
    try {
      read = readRequest(query, user.userId, new ResponseClient(response));
    } catch {
      return false;
    }
    void answer(request, services, user, read, response, log);
    return true;
  };
  return (request, response) => {
    try {
      return take(request, response);
    } catch (error) {
      // Nothing is written before `answer`: the app can still answer (a throw here is a bug,
      // and must not take the process down as an uncaught exception in a listener would).
      log.error('sync fast path failed; the app answers', { error });
      return false;
    }
  };
}

/** Runs the sync and writes its answer, or its error as the app would. */
async function answer(
  request: IncomingMessage,
  services: Services,
  user: AuthenticatedUser,
  read: SyncRequest | Promise<SyncRequest>,
  response: ServerResponse,
  log: Log,
): Promise<void> {
  try {
    const body = await services.sync.sync(user, read instanceof Promise ? await read : read);
    writeJson(response, 200, JSON_HEADERS, JSON.stringify(body));
  } catch (error) {
    answerError(request, response, error, log);
  }
}

/** As transport's error handler: a Matrix error as itself, anything else logged and a 500. */
function answerError(
  request: IncomingMessage,
  response: ServerResponse,
  error: unknown,
  log: Log,
): void {
  let matrixError = toMatrixError(error);
  if (matrixError === undefined) {
    try {
      const url = request.url ?? '';
      const mark = url.indexOf('?');
      // The path only: the query may hold a filter, never a token here, but logs get neither.
      const path = mark === -1 ? url : url.slice(0, mark);
      log.error('unhandled error in request handler', { method: 'GET', path, error });
    } catch {
      // A failing logger must not turn a 500 into a crash.
    }
    matrixError = MatrixError.unknown();
  }
  if (response.headersSent || response.destroyed) return;
  const { status, headers, body } = matrixErrorAnswer(matrixError, CORS_HEADERS);
  writeJson(response, status, headers, body);
}

/**
 * Whether a request carries more than one `Authorization` header: Node's `headers` keeps the
 * first, the app's fetch `Headers` joins them (and refuses the result), so such a request is
 * the app's to answer.
 */
function hasSecondAuthorization(rawHeaders: readonly string[]): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}

/**
 * Writes a whole answer with its length (without one, Node would send a head-first response in
 * chunked encoding), in one write as the app's adapter does.
 */
function writeJson(
  response: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  text: string,
): void {
  response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
