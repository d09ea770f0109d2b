/**
 * A Matrix HTTP client over `fetch`, for both halves of the protocol: client-server requests
 * with an access token, and federation requests signed with X-Matrix.
 *
 * Per request: build the URL and canonical JSON body; sign it (federation); then up to
 * `maxAttempts` attempts, each with its own timeout. A network failure, a timeout, a 5xx or a 429
 * is retried after a backoff (retry.ts); any other error response becomes a `MatrixError` at
 * once; a success must be a JSON object, parsed with @weft/canonical-json's strict parser (or, with
 * `anyJsonResponses`, its `parseAnyJson`).
 */
import {
  CanonicalJsonError,
  encodeCanonicalJson,
  parseAnyJson,
  parseJson,
} from '@weft/canonical-json';
import type { SigningKey } from '@weft/signing';

import { declaresTooLarge, limitedChunks, readLimited } from './body.ts';
import { TransportError } from './errors.ts';
import { MatrixError } from './matrix-error.ts';
import {
  backoffDelay,
  parseRetryAfter,
  type RetryOptions,
  type RetryPolicy,
  retryPolicy,
} from './retry.ts';
import { signRequest } from './x-matrix.ts';

/** Federation identity for signing outgoing requests. */
export interface FederationSigner {
  /** Our server name. */
  readonly origin: string;
  /** The server this client talks to (its name before delegation). */
  readonly destination: string;
  /** Our Ed25519 signing key. */
  readonly signingKey: SigningKey;
}

/** Options of {@link MatrixHttpClient}. */
export interface MatrixHttpClientOptions {
  /** Base URL, e.g. `https://matrix.example.org` (a path prefix is kept). */
  readonly baseUrl: string | URL;
  /** Access token sent as `Authorization: Bearer …` (client-server API). */
  readonly accessToken?: string;
  /** Sign every request with X-Matrix (server-server API). */
  readonly federation?: FederationSigner;
  /** Retry settings, or `false` for a single attempt. */
  readonly retry?: RetryOptions | false;
  /** Per-attempt timeout in ms. Default 30 000; `0` disables it. */
  readonly timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default 64 MiB. */
  readonly maxResponseBytes?: number;
  /**
   * Read answers as any JSON (`parseAnyJson`: floats kept, a repeated key's last value) instead
   * of strictly. For the client-server API, whose answers carry what clients wrote, e.g. a
   * room tag's `order` (a float) in `/sync`'s account data. Default `false`: server-server
   * answers are signed data and are read strictly.
   */
  readonly anyJsonResponses?: boolean;
  /** The `fetch` to use. Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Waits `ms` before a retry; rejects if `signal` aborts. Injected by tests. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random number in [0, 1) for jitter. Default `Math.random` (jitter needs no secrecy). */
  readonly random?: () => number;
  /** Clock for HTTP-date `Retry-After` values. Default `Date.now`. */
  readonly now?: () => number;
}

/** Query parameter values; arrays repeat the parameter, `undefined` omits it. */
export type QueryValue = string | number | boolean | readonly string[] | undefined;

/** One request. */
export interface MatrixRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path from `/_matrix/…`, already percent-encoded (see `matrixPath`). */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** JSON body; sent as canonical JSON. POST/PUT without a body send `{}` (spec). */
  readonly body?: unknown;
  /** Send the access token / X-Matrix signature. Default `true`. */
  readonly authenticated?: boolean;
  /** `false`: a single attempt (e.g. a non-idempotent POST). Default `true`. */
  readonly retry?: boolean;
  /** Overrides the client's per-attempt timeout. */
  readonly timeoutMs?: number;
  /** Aborts the request and any pending retry. */
  readonly signal?: AbortSignal;
  /**
   * Reads a 2xx answer's body as it arrives instead of the client parsing it whole (a big
   * answer can then be used before its last byte is in); resolves to the request's value. The
   * chunks stop with a `TransportError` past `maxResponseBytes` or when the connection fails;
   * any other error it throws is a `bad-response`. A body read so is never retried. `headers`
   * are the answer's (a file's `Content-Type` and `Content-Disposition`).
   */
  readonly readBody?: (
    chunks: AsyncIterable<Uint8Array>,
    headers: Headers,
  ) => Promise<Record<string, unknown>>;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type Attempt =
  | { readonly kind: 'done'; readonly value: Record<string, unknown> }
  | { readonly kind: 'fatal'; readonly error: Error }
  | { readonly kind: 'retry'; readonly error: Error; readonly waitMs?: number };

/** A Matrix HTTP client; see the module comment. */
export class MatrixHttpClient {
  readonly #base: URL;
  readonly #accessToken: string | undefined;
  readonly #federation: FederationSigner | undefined;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #anyJsonResponses: boolean;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(options: MatrixHttpClientOptions) {
    this.#base = new URL(options.baseUrl);
    if (options.accessToken !== undefined && typeof options.accessToken !== 'string') {
      throw new TypeError('accessToken must be a string');
    }
    this.#accessToken = options.accessToken;
    this.#federation = options.federation;
    this.#policy = retryPolicy(options.retry);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    if (!(Number.isFinite(this.#timeoutMs) && this.#timeoutMs >= 0)) {
      throw new RangeError('timeoutMs must be a non-negative number');
    }
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#anyJsonResponses = options.anyJsonResponses === true;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('no fetch implementation available');
    this.#fetch = fetchImpl;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /** `GET path`. */
  get<T = Record<string, unknown>>(path: string, query?: MatrixRequest['query']): Promise<T> {
    return this.request<T>(
      query === undefined ? { method: 'GET', path } : { method: 'GET', path, query },
    );
  }

  /** `POST path` with a JSON body. */
  post<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>({ method: 'POST', path, body });
  }

  /** `PUT path` with a JSON body. */
  put<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>({ method: 'PUT', path, body });
  }

  /**
   * Sends `request`, retrying as configured. Resolves to the parsed JSON object of a 2xx
   * response; rejects with a `MatrixError` for an error response (the last one, after retries)
   * or a `TransportError` (`network`, `timeout`, `aborted`, `bad-response`, `bad-request`).
   */
  async request<T = Record<string, unknown>>(request: MatrixRequest): Promise<T> {
    const { method, path } = request;
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new TypeError('path must be a string starting with "/"');
    }
    const url = this.#url(path, request.query);
    const bodyValue =
      request.body !== undefined
        ? request.body
        : method === 'POST' || method === 'PUT'
          ? {}
          : undefined;
    let body: string | undefined;
    if (bodyValue !== undefined) {
      try {
        body = encodeCanonicalJson(bodyValue);
      } catch (cause) {
        if (!CanonicalJsonError.isInstance(cause)) throw cause;
        throw new TransportError('bad-request', 'body cannot be encoded as canonical JSON', {
          method,
          path: url.pathname,
          cause,
        });
      }
    }
    const headers = new Headers({ Accept: 'application/json' });
    if (body !== undefined) headers.set('Content-Type', 'application/json');
    if (request.authenticated !== false) {
      if (this.#federation !== undefined) {
        const { origin, destination, signingKey } = this.#federation;
        const uri = url.pathname + url.search;
        const content = bodyValue;
        headers.set(
          'Authorization',
          signRequest(
            content === undefined
              ? { method, uri, origin, destination }
              : { method, uri, origin, destination, content },
            signingKey,
          ),
        );
      } else if (this.#accessToken !== undefined) {
        headers.set('Authorization', `Bearer ${this.#accessToken}`);
      }
    }

    const maxAttempts = request.retry === false ? 1 : this.#policy.maxAttempts;
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
    const context = { method, path: url.pathname };
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(
        url,
        method,
        headers,
        body,
        timeoutMs,
        request.signal,
        { ...context, attempts: attempt },
        request.readBody,
      );
      if (outcome.kind === 'done') return outcome.value as T;
      if (outcome.kind === 'fatal') throw outcome.error;
      if (attempt >= maxAttempts) throw outcome.error;
      const waitMs = outcome.waitMs ?? backoffDelay(attempt - 1, this.#policy, this.#random);
      if (outcome.waitMs !== undefined && outcome.waitMs > this.#policy.maxRetryAfterMs) {
        throw outcome.error;
      }
      try {
        await this.#sleep(waitMs, request.signal);
      } catch (cause) {
        throw new TransportError('aborted', 'request aborted', {
          ...context,
          attempts: attempt,
          cause,
        });
      }
    }
  }

  #url(path: string, query: MatrixRequest['query']): URL {
    const base = this.#base.href.endsWith('/') ? this.#base.href.slice(0, -1) : this.#base.href;
    const url = new URL(base + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(name, item);
      else url.searchParams.append(name, String(value));
    }
    return url;
  }

  async #attempt(
    url: URL,
    method: string,
    headers: Headers,
    body: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    context: { method: string; path: string; attempts: number },
    readBody?: MatrixRequest['readBody'],
  ): Promise<Attempt> {
    if (signal?.aborted) {
      return {
        kind: 'fatal',
        error: new TransportError('aborted', 'request aborted', {
          ...context,
          cause: signal.reason,
        }),
      };
    }
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const combined = signals.length === 0 ? undefined : AbortSignal.any(signals);
    let response: Response;
    let bytes: Uint8Array;
    try {
      const init: RequestInit = { method, headers };
      if (body !== undefined) init.body = body;
      if (combined !== undefined) init.signal = combined;
      response = await this.#fetch(url, init);
      if (response.ok && readBody !== undefined) {
        // A body cut off while streaming is named as the whole request would be.
        const readFailure = (cause: unknown): TransportError =>
          signal?.aborted
            ? new TransportError('aborted', 'request aborted', { ...context, cause })
            : timeout?.aborted
              ? new TransportError('timeout', `no response within ${timeoutMs} ms`, {
                  ...context,
                  cause,
                })
              : new TransportError('network', 'request failed', { ...context, cause });
        return await this.#readStreamed(response, readBody, context, readFailure);
      }
      bytes = await readLimited(
        response,
        this.#maxResponseBytes,
        () => new TransportError('bad-response', 'response body too large', context),
      );
    } catch (cause) {
      if (TransportError.isInstance(cause)) return { kind: 'fatal', error: cause };
      if (signal?.aborted) {
        return {
          kind: 'fatal',
          error: new TransportError('aborted', 'request aborted', { ...context, cause }),
        };
      }
      if (timeout?.aborted) {
        return {
          kind: 'retry',
          error: new TransportError('timeout', `no response within ${timeoutMs} ms`, {
            ...context,
            cause,
          }),
        };
      }
      return {
        kind: 'retry',
        error: new TransportError('network', 'request failed', { ...context, cause }),
      };
    }
    let parsed: unknown;
    let parseError: unknown;
    try {
      // The size was already bounded by maxResponseBytes (readLimited); the parser's own
      // 16 MiB default would refuse a big room's send_join answer.
      parsed =
        bytes.byteLength === 0
          ? undefined
          : this.#anyJsonResponses
            ? parseAnyJson(bytes)
            : parseJson(bytes, { maxBytes: bytes.byteLength });
    } catch (error) {
      parseError = error;
    }
    if (response.ok) {
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return {
          kind: 'fatal',
          error: new TransportError('bad-response', 'response is not a JSON object', {
            ...context,
            cause: parseError,
          }),
        };
      }
      return { kind: 'done', value: parsed as Record<string, unknown> };
    }
    const error = MatrixError.fromResponse(response.status, parsed, response.headers);
    if (response.status === 429 || response.status >= 500) {
      const waitMs =
        error.retryAfterMs ?? parseRetryAfter(response.headers.get('retry-after'), this.#now());
      return waitMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, waitMs };
    }
    return { kind: 'fatal', error };
  }

  /** A 2xx body through the request's `readBody`, bounded by maxResponseBytes; never retried. */
  async #readStreamed(
    response: Response,
    readBody: NonNullable<MatrixRequest['readBody']>,
    context: { method: string; path: string; attempts: number },
    readFailure: (cause: unknown) => TransportError,
  ): Promise<Attempt> {
    const maxBytes = this.#maxResponseBytes;
    const tooLarge = (): TransportError =>
      new TransportError('bad-response', 'response body too large', context);
    // A declared length over the limit is refused before the reader sees a byte, as a whole
    // read refuses it.
    if (declaresTooLarge(response.headers, maxBytes)) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'fatal', error: tooLarge() };
    }
    try {
      return {
        kind: 'done',
        value: await readBody(
          limitedChunks(response.body, maxBytes, tooLarge, readFailure),
          response.headers,
        ),
      };
    } catch (cause) {
      if (TransportError.isInstance(cause)) return { kind: 'fatal', error: cause };
      return {
        kind: 'fatal',
        error: new TransportError('bad-response', 'the response body reader refused the body', {
          ...context,
          cause,
        }),
      };
    }
  }
}
