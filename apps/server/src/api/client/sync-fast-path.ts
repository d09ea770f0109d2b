/**
 * The long-poll's own way in: a `GET /sync` with a Bearer token the server already knows is
 * answered straight from the request the HTTP thread handed over (http-thread.ts), without the
 * Hono app. Each event reaches every member of its room through one such request, so this is
 * the server's most frequent request by far, and Hono's per-request objects (a Request, a
 * Context, a Response, route matching, a URL built and parsed) were ≈ 7% of its main thread
 * under the sync load (decision record of session 6 in ARCHITECTURE.md).
 *
 * Everything else goes to the app unchanged: other paths and methods, a token in the query or a
 * header of another form, a token not in the cache (the app authenticates it, caching it for the
 * next request), and a query the reader refuses (the app answers with the same error). Once the
 * sync has started, its errors are answered here as the app's error handler answers them.
 */
import { CORS_HEADERS, MatrixError, matrixErrorAnswer, toMatrixError } from '@weft/transport';

import type { BridgedRequest } from '../../http-thread.ts';
import type { Log } from '../../log.ts';
import type { AuthenticatedUser } from '../../services/core/context.ts';
import type { Services } from '../../services/index.ts';
import type { SyncRequest } from '../../services/sync/service.ts';
import { syncRequestReader } from './sync.ts';

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
 * A request handler that answers a known-token `GET /sync` and returns true, or returns false
 * (having answered nothing) for the app to answer it.
 */
export function syncFastPath(services: Services, log: Log): (request: BridgedRequest) => boolean {
  const readRequest = syncRequestReader((userId, filterId) =>
    services.filters.getFilter(userId, filterId),
  );
  const take = (request: BridgedRequest): boolean => {
    if (request.method !== 'GET') return false;
    const url = request.url;
    const mark = url.indexOf('?');
    if (!SYNC_PATHS.has(mark === -1 ? url : url.slice(0, mark))) return false;
    const token = BEARER.exec(soleAuthorization(request.rawHeaders) ?? '')?.[1];
    if (token === undefined) return false;
    const query = new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1));
    if (query.has('access_token')) return false;
    // Only a token the cache knows, whose device needs no last-seen write: anything else is the
    // app's to authenticate (asking here too would read the database twice for one request).
    const user = services.accounts.cachedUser(token);
    if (user === undefined) return false;
    let read: SyncRequest | Promise<SyncRequest>;
    try {
      read = readRequest(query, user.userId, request.client);
    } catch {
      return false;
    }
    void answer(request, services, user, read, log);
    return true;
  };
  return (request) => {
    try {
      return take(request);
    } catch (error) {
      // Nothing is answered before `answer`: the app can still answer (a throw here is a bug).
      log.error('sync fast path failed; the app answers', { error });
      return false;
    }
  };
}

/** Runs the sync and sends its answer, or its error as the app would. */
async function answer(
  request: BridgedRequest,
  services: Services,
  user: AuthenticatedUser,
  read: SyncRequest | Promise<SyncRequest>,
  log: Log,
): Promise<void> {
  try {
    const body = await services.sync.sync(user, read instanceof Promise ? await read : read);
    request.respond({ status: 200, headers: JSON_HEADERS, body: JSON.stringify(body) });
  } catch (error) {
    answerError(request, error, log);
  }
}

/** As transport's error handler: a Matrix error as itself, anything else logged and a 500. */
function answerError(request: BridgedRequest, error: unknown, log: Log): void {
  let matrixError = toMatrixError(error);
  if (matrixError === undefined) {
    try {
      const mark = request.url.indexOf('?');
      // The path only: the query may hold a filter, never a token here, but logs get neither.
      const path = mark === -1 ? request.url : request.url.slice(0, mark);
      log.error('unhandled error in request handler', { method: 'GET', path, error });
    } catch {
      // A failing logger must not turn a 500 into a crash.
    }
    matrixError = MatrixError.unknown();
  }
  request.respond(matrixErrorAnswer(matrixError, CORS_HEADERS));
}

/**
 * The request's one `Authorization` header, or `undefined` when it has none or more than one
 * (the app's fetch `Headers` joins repeated ones, and refuses the result: such a request is the
 * app's to answer).
 */
function soleAuthorization(rawHeaders: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      if (found !== undefined) return undefined;
      found = rawHeaders[i + 1] as string;
    }
  }
  return found;
}
