/**
 * The Matrix app factory: a Hono app with the behaviour every Matrix endpoint shares, so the
 * server writes one small handler per endpoint.
 *
 * Per request, in this order:
 * 1. `OPTIONS` → 204 with CORS headers, no endpoint logic, no auth (CS API "Web Browser Clients").
 *    Every other answer, errors included, carries the CORS headers too (set where the response
 *    is built, not by a middleware: see {@link createMatrixApp}).
 * 2. Routing: an unknown path → 404 `M_UNRECOGNIZED`; a known path with another method → 405
 *    `M_UNRECOGNIZED` (CS API "Common error codes"; SS API "Unsupported endpoints").
 * 3. Authentication: an access token (`auth: 'user'`, CS API "Using access tokens") or an
 *    X-Matrix signature (`auth: 'server'`, SS API "Request Authentication", which needs the body).
 * 4. Rate limiting per user, server or address (CS API "Rate limiting").
 * 5. Body: size limit (413 `M_TOO_LARGE`), strict JSON object (400 `M_NOT_JSON` / `M_BAD_JSON`),
 *    then the endpoint's own validator.
 * 6. The handler; whatever it throws becomes a standard error response (error-handler.ts).
 */
import { Context, Hono } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import type { ParamKeys } from 'hono/types';
import { getPath, tryDecodeURIComponent } from 'hono/utils/url';

import { accessTokenOf } from './access-token.ts';
import {
  DEFAULT_MAX_BODY_BYTES,
  type JsonBodyOptions,
  parseJsonBody,
  readBodyBytes,
} from './body.ts';
import { clientAddressKey, forwardedClient } from './client-address.ts';
import { CORS_HEADERS, withHeaders } from './cors.ts';
import {
  matrixErrorAnswer,
  matrixErrorHandler,
  matrixErrorResponse,
  toMatrixError,
} from './error-handler.ts';
import { type HeaderLookup, JSON_CONTENT_TYPE, mergeHeaders } from './header-object.ts';
import type { Logger } from './logger.ts';
import { MatrixError } from './matrix-error.ts';
import type { TokenBucketRateLimiter } from './rate-limit.ts';
import { requestPath } from './request-path.ts';
import { requestTargetOf } from './request-target.ts';
import { FixedPathMemoRouter } from './router.ts';
import { type ServerKeyLookup, verifyRequest, xMatrixRefusal } from './x-matrix.ts';

/** HTTP methods an endpoint can be registered for (`HEAD` is served by `GET`). */
export type EndpointMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

const METHODS: readonly EndpointMethod[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/**
 * How an endpoint authenticates its caller:
 * - `none`: no authentication.
 * - `user`: an access token is required (401 `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`).
 * - `optional-user`: an access token is checked if sent (e.g. public room directory).
 * - `server`: an X-Matrix signature is required (federation; 401 `M_UNAUTHORIZED`, or 403
 *   `M_FORBIDDEN` for an origin the server refuses).
 */
export type AuthMode = 'none' | 'user' | 'optional-user' | 'server';

/** What an endpoint reads from the request body. */
export type BodyMode =
  /** A JSON object (the spec's rule for POST and PUT); the default for POST, PUT and PATCH. */
  | 'json'
  /**
   * A JSON object the client may leave out: an empty body reads as `{}` (endpoints whose whole
   * body the spec marks optional, such as `/join` and `/leave`); anything sent is parsed as `json`.
   */
  | 'optional-json'
  /** Nothing; the default for GET and DELETE. Any body sent is ignored. */
  | 'none'
  /** Raw bytes (media upload), still size-limited; available as `rawBody`. */
  | 'raw';

/** Federation settings of {@link createMatrixApp}. */
export interface FederationOptions {
  /** Our server name: the `destination` senders must sign for. */
  readonly serverName: string;
  /** Public key lookup for X-Matrix verification. */
  readonly lookupKey: ServerKeyLookup;
  /**
   * Whether a server whose signature verified may use our federation API (server ACLs,
   * blocklists). `false` → 403 `M_FORBIDDEN`. Default: every server may.
   */
  readonly isOriginAllowed?: (origin: string) => boolean | Promise<boolean>;
}

/** Who a request is from, as passed to a rate-limit key function. */
export interface RequestIdentity<User> {
  readonly user: User | undefined;
  readonly origin: string | undefined;
  /**
   * The address of the peer the request came from: {@link PlainRequest.remoteAddress}, or the
   * socket's remote address that @hono/node-server puts in `env.incoming`; `undefined` when the
   * server told none.
   */
  readonly remoteAddress: string | undefined;
  /** The request's headers. */
  readonly headers: HeaderLookup;
  /** The client's address, as handlers see it: {@link EndpointRequest.clientAddress}. */
  readonly clientAddress: string | undefined;
  readonly context: Context;
}

/** Options of {@link createMatrixApp}. */
export interface MatrixAppOptions<User> {
  /** Receives unexpected errors (answered as 500 `M_UNKNOWN`). */
  readonly logger?: Logger;
  /** Send the spec's CORS headers. Default `true`. */
  readonly cors?: boolean;
  /** Request body size limit in bytes. Default {@link DEFAULT_MAX_BODY_BYTES} (4 MiB). */
  readonly maxBodyBytes?: number;
  /**
   * Resolves an access token to the authenticated user, or `undefined` when it is unknown
   * (→ 401 `M_UNKNOWN_TOKEN`); may throw a `MatrixError` itself (e.g.
   * `MatrixError.unknownToken(…, { softLogout: true })`). Required for `auth: 'user'`. The
   * request's headers come along (a fetch `Request` satisfies the type).
   */
  readonly authenticateToken?: (
    token: string,
    request: { readonly headers: HeaderLookup },
  ) => Promise<User | undefined> | User | undefined;
  /** Accept the legacy `access_token` query parameter (matrix-nio sends it). Default `true`. */
  readonly allowQueryAccessToken?: boolean;
  /** Required for `auth: 'server'` endpoints. */
  readonly federation?: FederationOptions;
  /** The limiter used by endpoints declared with `rateLimit: true`. */
  readonly rateLimiter?: TokenBucketRateLimiter;
  /**
   * The rate-limit key of a request. Default: the origin server for federation requests, the
   * user for authenticated ones (`User` itself if a string, else its `userId` field), else the
   * client's address (`clientAddress`, else the peer's address and `trustedProxy`) as
   * {@link clientAddressKey} groups it (an IPv6 client by its /64), else `"anonymous"`.
   */
  readonly rateLimitKey?: (identity: RequestIdentity<User>) => string;
  /**
   * The client's address, used for rate-limit keys; when it answers `undefined` (or is not
   * given), the peer's address is used (`RequestIdentity.remoteAddress`, with `trustedProxy`).
   */
  readonly clientAddress?: (context: Context) => string | undefined;
  /**
   * Whether the peer at `address` is a proxy whose `X-Forwarded-For` is believed: the client's
   * address is then the right-most entry of that header that is not itself a trusted proxy.
   * Default: no peer is (the header is ignored).
   */
  readonly trustedProxy?: (address: string) => boolean;
}

type UserOf<A extends AuthMode, User> = A extends 'user'
  ? User
  : A extends 'optional-user'
    ? User | undefined
    : undefined;

/** What a handler receives. */
export interface EndpointRequest<Path extends string, A extends AuthMode, Body, User> {
  /** Path parameters, decoded (`/rooms/:roomId` → `params.roomId === '!a:b'`). */
  readonly params: { readonly [K in ParamKeys<Path>]: string };
  /** The query string, without `access_token`. */
  readonly query: URLSearchParams;
  /** The parsed body (`{}` for body mode `none` and `raw`). */
  readonly body: Body;
  /** The raw body bytes (empty for body mode `none`). */
  readonly rawBody: Uint8Array;
  /** The authenticated user. */
  readonly user: UserOf<A, User>;
  /** The access token that authenticated `user` (for logout and the like). */
  readonly accessToken: A extends 'user' ? string : string | undefined;
  /** The server that signed the request (`auth: 'server'`). */
  readonly origin: A extends 'server' ? string : undefined;
  /**
   * The client's address: the app's `clientAddress` option's answer, else the peer's address,
   * or, when the peer is a `trustedProxy`, the right-most `X-Forwarded-For` hop not itself
   * trusted; `undefined` when the server told no peer address. The address the default
   * rate-limit key counts (under {@link clientAddressKey}); worked out once per request.
   */
  readonly clientAddress: string | undefined;
  /** The Hono context, for anything else. */
  readonly context: Context;
}

/** What a handler returns: a JSON object (sent with 200) or a full `Response`. */
export type EndpointResult = Response | Readonly<Record<string, unknown>>;

/** One endpoint. */
export interface EndpointDefinition<Path extends string, A extends AuthMode, Body, User> {
  readonly method: EndpointMethod;
  /** Hono path pattern, e.g. `/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId`. */
  readonly path: Path;
  readonly auth: A;
  /** Default: `json` for POST/PUT/PATCH, `none` for GET/DELETE. */
  readonly body?: BodyMode;
  /** Validates the JSON body and returns its typed form; throw `MatrixError.badJson()` if wrong. */
  readonly parseBody?: (json: Record<string, unknown>) => Body;
  /** Room versions 1–5 payloads: accept floats and big integers in the body. Wins over `floats`. */
  readonly legacyNumbers?: boolean;
  /**
   * Accept floats in the body but keep the integer range (bodies that are not events, such as
   * account data and room tags); an integer beyond ±(2^53−1) is still `M_BAD_JSON`.
   */
  readonly floats?: boolean;
  /** Overrides the app's body size limit. */
  readonly maxBodyBytes?: number;
  /** `true`: use the app's limiter; or a limiter of its own (with an optional per-request cost). */
  readonly rateLimit?:
    | boolean
    | { readonly limiter: TokenBucketRateLimiter; readonly cost?: number };
  readonly handler: (
    request: EndpointRequest<Path, A, Body, User>,
  ) => EndpointResult | Promise<EndpointResult>;
}

/** The app {@link createMatrixApp} returns. */
export interface MatrixApp<User> {
  /** The Hono app: serve `hono.fetch`, or mount it in a larger app. */
  readonly hono: Hono;
  /** Registers an endpoint; returns the app for chaining. */
  endpoint<Path extends string, A extends AuthMode, Body = Record<string, unknown>>(
    definition: EndpointDefinition<Path, A, Body, User>,
  ): MatrixApp<User>;
  /**
   * Shorthand for `hono.fetch`; `env` reaches handlers as `context.env` (e.g. the Node request
   * and response that @hono/node-server passes).
   */
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
  /**
   * Answers a request that a server has already parsed and read whole (say, on another
   * thread), as `fetch` would answer it but without a fetch `Request` or `Response`: a matched
   * endpoint runs straight from `request`, and the fetch objects are built only for a handler
   * that reads `context` and for what no endpoint matches (OPTIONS, HEAD, 404, 405).
   */
  answer(request: PlainRequest, env?: unknown): Promise<PlainAnswer>;
}

/** A request read whole, for {@link MatrixApp.answer}. */
export interface PlainRequest {
  readonly method: string;
  /** The request target in origin form: the path and the query (`/_matrix/…?…`). */
  readonly target: string;
  /** The headers as received, in Node's `rawHeaders` layout: name, value, name, value, … */
  readonly rawHeaders: readonly string[];
  /** The body, if the request has one. */
  readonly body?: Uint8Array | undefined;
  /** The address of the peer that sent it (the socket's remote address), for rate limits. */
  readonly remoteAddress?: string | undefined;
}

/** What {@link MatrixApp.answer} answers. */
export interface PlainAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

/**
 * What the endpoint pipeline reads of a request: a fetch `Request` behind a Hono context, or a
 * {@link PlainRequest}.
 */
interface PipelineInput {
  readonly method: string;
  /** The absolute URL. */
  readonly url: string;
  /**
   * The request target as received (path and query, not normalised by URL parsing): what the
   * sender signed as X-Matrix's `uri`.
   */
  readonly target: string;
  readonly headers: HeaderLookup;
  /** The peer's address, if known. */
  readonly remoteAddress: string | undefined;
  /** The body, at most `maxBytes` (413 `M_TOO_LARGE` beyond). */
  readBody(maxBytes: number): Promise<Uint8Array>;
  /** The Hono context (built on first use for a plain request). */
  readonly context: Context;
}

/** Runs one endpoint's pipeline: the handler's result, or a thrown error. */
type Pipeline = (input: PipelineInput, params: Record<string, string>) => Promise<EndpointResult>;

/**
 * The origin of the URL a plain request is given: handlers read paths and queries only, and a
 * `Host` header must not change the path a request is routed by.
 */
const PLAIN_ORIGIN = 'http://localhost';

/**
 * A JSON response with `Content-Type: application/json` (spec: "Servers must include …"), which
 * replaces a content type in `headers` whatever its letter case.
 */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: mergeHeaders(headers, JSON_CONTENT_TYPE),
  });
}

/** Creates a Matrix app; see the module comment for what every request goes through. */
export function createMatrixApp<User = string>(
  options: MatrixAppOptions<User> = {},
): MatrixApp<User> {
  const appMaxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  checkLimit(appMaxBody);
  const hono = new Hono({ router: new FixedPathMemoRouter() });
  const routes = new TrieRouter<EndpointMethod>();
  // CORS headers go into each response as it is built, as a plain object, instead of through a
  // middleware: setting headers on a finished response turned its header object into a
  // `Headers` instance that the Node adapter then converted back, and a middleware makes Hono
  // run every request through its composer; both were a visible share of a small answer's cost.
  const corsHeaders: Readonly<Record<string, string>> = (options.cors ?? true) ? CORS_HEADERS : {};
  // Every JSON answer's headers, merged once here rather than per response.
  const jsonHeaders = Object.freeze(mergeHeaders(corsHeaders, JSON_CONTENT_TYPE));
  // …and one init object for every 200 (the Node adapter reads it, never changes it).
  const jsonOk: ResponseInit = Object.freeze({ status: 200, headers: jsonHeaders });

  hono.onError(matrixErrorHandler(options.logger, corsHeaders));
  // Spec: "the server MUST NOT perform any logic defined for the endpoints when approached with
  // an OPTIONS request"; endpoints are registered per method, so only this route sees OPTIONS.
  hono.on('OPTIONS', '*', () => new Response(null, { status: 204, headers: corsHeaders }));
  // A path we serve with other methods is 405; anything else 404 (spec "Common error codes").
  const unrecognized = (path: string): Response => {
    const allowed = METHODS.filter((method) => routes.match(method, path)[0].length > 0);
    if (allowed.length === 0) {
      return matrixErrorResponse(MatrixError.unrecognized(404), corsHeaders);
    }
    if (allowed.includes('GET')) allowed.push('HEAD' as EndpointMethod);
    return matrixErrorResponse(
      new MatrixError(405, 'M_UNRECOGNIZED', 'Method not allowed for this endpoint', {
        headers: { Allow: [...allowed, 'OPTIONS'].join(', ') },
      }),
      corsHeaders,
    );
  };
  hono.notFound((c) => unrecognized(c.req.path));

  const defaultKey = (identity: RequestIdentity<User>): string => {
    if (identity.origin !== undefined) return `server:${identity.origin}`;
    const user: unknown = identity.user;
    if (typeof user === 'string') return `user:${user}`;
    if (typeof user === 'object' && user !== null) {
      const userId = (user as { userId?: unknown }).userId;
      if (typeof userId === 'string') return `user:${userId}`;
    }
    const address = identity.clientAddress;
    return address === undefined ? 'anonymous' : `address:${clientAddressKey(address)}`;
  };
  // The client's address of a request (see EndpointRequest.clientAddress).
  const clientAddressOf = (input: PipelineInput): string | undefined =>
    options.clientAddress?.(input.context) ??
    forwardedClient(input.remoteAddress, input.headers, options.trustedProxy);
  // The peer and the request target as received of a plain request `answer` hands to Hono as a
  // fetch `Request` (no endpoint matched it as sent: `/./x` and the like), for the endpoint Hono
  // routes it to: the fetch `Request`'s URL is normalised, but X-Matrix signs the raw target.
  const plainPeers = new WeakMap<Request, string>();
  const plainTargets = new WeakMap<Request, string>();
  const rateLimitKey = options.rateLimitKey ?? defaultKey;

  // Plain requests are routed as Hono routes them (same router, same path decoding), to the same
  // pipeline as the Hono route of each endpoint.
  const plainRoutes = new FixedPathMemoRouter<Pipeline>();
  const errorAnswer = (error: unknown, method: string, url: string): PlainAnswer => {
    let matrixError = toMatrixError(error);
    if (matrixError === undefined) {
      // As matrixErrorHandler: the real error goes only to the logger, with the path alone.
      try {
        options.logger?.error('unhandled error in request handler', {
          method,
          path: requestPath(url),
          error,
        });
      } catch {
        // A failing logger must not turn a 500 into a crash.
      }
      matrixError = MatrixError.unknown();
    }
    return matrixErrorAnswer(matrixError, corsHeaders);
  };

  const app: MatrixApp<User> = {
    hono,
    fetch: (request, env) => hono.fetch(request, env),
    async answer(request, env) {
      // Origin-form only (`/path?query`): `*`, an absolute URL, or a backslash (which URL
      // parsing reads as a slash) would route another path than the one sent.
      if (!request.target.startsWith('/') || request.target.includes('\\')) {
        return matrixErrorAnswer(
          new MatrixError(400, 'M_UNRECOGNIZED', 'Malformed request target'),
          corsHeaders,
        );
      }
      const url = PLAIN_ORIGIN + request.target;
      const method = request.method;
      if (METHODS.includes(method as EndpointMethod)) {
        const path = getPath({ url } as Request);
        const match = plainRoutes.match(method, path)[0][0];
        if (match !== undefined) {
          const [pipeline, raw] = match as [Pipeline, Record<string, string>];
          // As Hono's `c.req.param()`: each value percent-decoded, kept as sent if malformed.
          const params: Record<string, string> = {};
          for (const name in raw) params[name] = tryDecodeURIComponent(raw[name] as string);
          try {
            const input = plainInput(request, url, env, { path, match: [pipeline, raw] });
            const result = await pipeline(input, params);
            // Awaited here: a failure reading its body is answered (and logged) as the handler's.
            if (result instanceof Response) return await plainOf(withHeaders(result, corsHeaders));
            return { status: 200, headers: jsonHeaders, body: JSON.stringify(result) };
          } catch (error) {
            return errorAnswer(error, method, url);
          }
        }
      }
      // OPTIONS, HEAD, 404 and 405, and a path that only matches once URL parsing has
      // normalized it (`/./x`, `/a/../x`): Hono answers from a fetch `Request` of it.
      let fetchRequest: Request;
      try {
        fetchRequest = fetchRequestOf(request, url);
      } catch {
        // A method fetch refuses (CONNECT, TRACE) is one no endpoint has: 405 on a path served
        // with others, 404 elsewhere, as any other method no endpoint has (the path as URL
        // parsing normalizes it, as Hono would see it).
        return plainOf(unrecognized(new URL(url).pathname));
      }
      if (request.remoteAddress !== undefined) plainPeers.set(fetchRequest, request.remoteAddress);
      plainTargets.set(fetchRequest, request.target);
      return plainOf(await hono.fetch(fetchRequest, env));
    },
    endpoint(definition) {
      const { method, path, auth } = definition;
      if (!METHODS.includes(method)) throw new RangeError(`unsupported method ${String(method)}`);
      if (auth === 'user' && options.authenticateToken === undefined) {
        throw new TypeError(`${method} ${path}: auth 'user' needs options.authenticateToken`);
      }
      if (auth === 'server' && options.federation === undefined) {
        throw new TypeError(`${method} ${path}: auth 'server' needs options.federation`);
      }
      if (definition.rateLimit === true && options.rateLimiter === undefined) {
        throw new TypeError(`${method} ${path}: rateLimit true needs options.rateLimiter`);
      }
      const bodyMode: BodyMode =
        definition.body ?? (method === 'GET' || method === 'DELETE' ? 'none' : 'json');
      const maxBody = definition.maxBodyBytes ?? appMaxBody;
      checkLimit(maxBody);
      routes.add(method, path, method);

      const pipeline: Pipeline = async (input, params) => {
        let user: User | undefined;
        let accessToken: string | undefined;
        let origin: string | undefined;
        let rawBody: Uint8Array = new Uint8Array(0);
        let json: Record<string, unknown> | undefined;
        const query = queryOf(input.url);
        // Worked out when first read (by the rate-limit key or the handler), then kept.
        let clientAddress: string | undefined;
        let clientAddressKnown = false;
        const clientAddressOnce = (): string | undefined => {
          if (!clientAddressKnown) {
            clientAddress = clientAddressOf(input);
            clientAddressKnown = true;
          }
          return clientAddress;
        };

        if (auth === 'user' || auth === 'optional-user') {
          accessToken = accessTokenOf(input.headers, query, {
            allowQueryParameter: options.allowQueryAccessToken !== false,
          });
          if (accessToken === undefined) {
            if (auth === 'user') throw MatrixError.missingToken();
          } else {
            const authenticate = options.authenticateToken;
            const found = authenticate === undefined ? undefined : authenticate(accessToken, input);
            // A cached token is answered synchronously: no await (a microtask) for it.
            user = found instanceof Promise ? await found : found;
            if (user === undefined) throw MatrixError.unknownToken();
          }
        }

        if (auth === 'server' && options.federation !== undefined) {
          // The signature covers the body, so it is read (size-limited) before verifying.
          rawBody = await input.readBody(maxBody);
          if (rawBody.byteLength > 0) json = parseJsonBody(rawBody, jsonOptions(definition));
          const result = await verifyRequest(
            {
              method: input.method,
              uri: input.target,
              authorization: input.headers.get('authorization'),
              content: json,
            },
            options.federation.serverName,
            options.federation.lookupKey,
          );
          if (!result.valid) throw xMatrixRefusal(result.reason);
          const allowedOrigin = options.federation.isOriginAllowed;
          if (allowedOrigin !== undefined && !(await allowedOrigin(result.origin))) {
            throw MatrixError.forbidden('Server is not allowed to use this API');
          }
          origin = result.origin;
        }

        const limit = definition.rateLimit;
        if (limit !== undefined && limit !== false) {
          const limiter = limit === true ? options.rateLimiter : limit.limiter;
          const cost = limit === true ? 1 : (limit.cost ?? 1);
          const identity: RequestIdentity<User> = {
            user,
            origin,
            remoteAddress: input.remoteAddress,
            headers: input.headers,
            get clientAddress() {
              return clientAddressOnce();
            },
            get context() {
              return input.context;
            },
          };
          const decision = limiter?.take(rateLimitKey(identity), cost);
          if (decision !== undefined && !decision.allowed) {
            throw MatrixError.limitExceeded(decision.retryAfterMs);
          }
        }

        if (auth !== 'server' && bodyMode !== 'none') rawBody = await input.readBody(maxBody);
        const wantsJson = bodyMode === 'json' || bodyMode === 'optional-json';
        if (wantsJson && json === undefined) {
          json =
            bodyMode === 'optional-json' && rawBody.byteLength === 0
              ? {}
              : parseJsonBody(rawBody, jsonOptions(definition));
        }

        let body: unknown = json ?? {};
        if (wantsJson && definition.parseBody !== undefined) {
          body = definition.parseBody(json ?? {});
        }
        // The token stays out of what handlers see (and might log).
        if (query.has('access_token')) query.delete('access_token');
        refuseNulParams(params);
        return definition.handler({
          params: params as unknown as EndpointRequest<
            typeof path,
            typeof auth,
            never,
            User
          >['params'],
          query,
          body,
          rawBody,
          user,
          accessToken,
          origin,
          get clientAddress() {
            return clientAddressOnce();
          },
          get context() {
            return input.context;
          },
        } as EndpointRequest<typeof path, typeof auth, never, User>);
      };
      plainRoutes.add(method, path, pipeline);

      hono.on(method, path, async (c) => {
        const request = c.req.raw;
        const input: PipelineInput = {
          method: request.method,
          url: request.url,
          target: plainTargets.get(request) ?? requestTargetOf(request, c.env),
          headers: request.headers,
          remoteAddress: plainPeers.get(request) ?? nodePeerAddress(c.env),
          readBody: (maxBytes) => readBodyBytes(request, maxBytes),
          context: c,
        };
        const result = await pipeline(input, c.req.param() as Record<string, string>);
        return result instanceof Response
          ? withHeaders(result, corsHeaders)
          : new Response(JSON.stringify(result), jsonOk);
      });
      return app;
    },
  };
  return app;
}

/**
 * 400 `M_INVALID_PARAM` for a path parameter holding U+0000 (sent as `%00`): no Matrix
 * identifier, event type or transaction ID contains one, and PostgreSQL cannot store it in text
 * (SQLSTATE 22021), so it would otherwise reach a handler's storage as a 500.
 */
function refuseNulParams(params: Readonly<Record<string, string>>): void {
  for (const name in params) {
    const value = params[name];
    if (typeof value === 'string' && value.includes('\u0000')) {
      throw MatrixError.invalidParam(`The path parameter ${name} contains a NUL character`);
    }
  }
}

/**
 * The pipeline's view of a plain request; its Hono context is built only if a handler asks
 * (with the request's path and the route's raw parameters, as Hono's own context has them).
 */
function plainInput(
  request: PlainRequest,
  url: string,
  env: unknown,
  route: { readonly path: string; readonly match: readonly [Pipeline, Record<string, string>] },
): PipelineInput {
  let context: Context | undefined;
  return {
    method: request.method,
    url,
    target: request.target,
    headers: rawHeaderLookup(request.rawHeaders),
    remoteAddress: request.remoteAddress,
    readBody: async (maxBytes) => {
      const body = request.body ?? new Uint8Array(0);
      if (body.byteLength > maxBytes) throw MatrixError.tooLarge();
      return body;
    },
    get context() {
      context ??= new Context(fetchRequestOf(request, url), {
        env,
        path: route.path,
        // Hono's router result: `c.req.param()` reads the raw parameters of route 0.
        matchResult: [[route.match]] as never,
      });
      return context;
    },
  };
}

/** The socket's remote address @hono/node-server passes in `env.incoming`, if there is one. */
function nodePeerAddress(env: unknown): string | undefined {
  const address = (env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)
    ?.incoming?.socket?.remoteAddress;
  return typeof address === 'string' ? address : undefined;
}

/** `rawHeaders` read as fetch's `Headers.get` reads: any letter case, repeats joined by ", ". */
function rawHeaderLookup(raw: readonly string[]): HeaderLookup {
  return {
    get(name) {
      const wanted = name.toLowerCase();
      let found: string | null = null;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const key = raw[i] as string;
        if (key.length !== wanted.length || key.toLowerCase() !== wanted) continue;
        const value = (raw[i + 1] as string).trim();
        found = found === null ? value : `${found}, ${value}`;
      }
      return found;
    },
  };
}

/** A fetch `Request` of a plain request: its method, headers and body. */
function fetchRequestOf(request: PlainRequest, url: string): Request {
  const raw = request.rawHeaders;
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    headers.push([raw[i] as string, raw[i + 1] as string]);
  const method = request.method;
  const body = request.body;
  // GET and HEAD requests may not carry a body in fetch (an endpoint of theirs reads none).
  const withBody =
    body !== undefined && body.byteLength > 0 && method !== 'GET' && method !== 'HEAD';
  return new Request(url, withBody ? { method, headers, body } : { method, headers });
}

/** A fetch `Response` as a {@link PlainAnswer} (its body read whole). */
async function plainOf(response: Response): Promise<PlainAnswer> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return {
    status: response.status,
    headers,
    body: new Uint8Array(await response.arrayBuffer()),
  };
}

/** The query string of a request URL (no fragment reaches a server), parsed. */
function queryOf(url: string): URLSearchParams {
  const start = url.indexOf('?');
  return new URLSearchParams(start === -1 ? '' : url.slice(start + 1));
}

function jsonOptions(definition: {
  readonly legacyNumbers?: boolean;
  readonly floats?: boolean;
}): JsonBodyOptions {
  if (definition.legacyNumbers === true) return { legacyNumbers: true };
  return definition.floats === true ? { floats: true } : {};
}

function checkLimit(limit: number): void {
  if (!(Number.isSafeInteger(limit) && limit >= 0)) {
    throw new RangeError('maxBodyBytes must be a non-negative safe integer');
  }
}
