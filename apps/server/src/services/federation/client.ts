/**
 * The federation client: every outbound server-server request goes through `request`, which
 * resolves the destination (discovery/), connects over TLS verified against the configured CA,
 * and signs the request with X-Matrix (spec server-server-api "Request Authentication") using
 * transport's `MatrixHttpClient`. Every connection, the `.well-known` lookups of discovery
 * included, goes only to addresses the federation address policy allows
 * (`federation.allow_private_addresses`, `federation.ip_range_whitelist`); a refused destination
 * fails at once with a `TransportError` (`network`, caused by a `DeniedAddressError`), which is
 * not retried within the call, and which callers treat as any unreachable server (the sender
 * backs off).
 */

import { readFileSync } from 'node:fs';

import { MatrixHttpClient, type MatrixRequest, TransportError } from '@weft/transport';

import { AddressPolicy, DeniedAddressError } from '../core/address-policy.ts';
import type { ServerContext } from '../core/context.ts';
import { ServerResolver } from './discovery/resolve-server.ts';
import { createSrvLookup } from './discovery/srv-lookup.ts';
import { fetchWellKnown } from './discovery/well-known.ts';
import { createHttpsFetch, type HttpsFetch } from './https-fetch.ts';

/** Per-request options of {@link FederationClient.request}. */
export interface FederationRequestOptions {
  readonly query?: MatrixRequest['query'];
  /** Retry network errors, 5xx and 429 inside the call (default true; the sender says false). */
  readonly retry?: boolean;
  /** Send the X-Matrix signature (default true; key fetches are unauthenticated). */
  readonly authenticated?: boolean;
  readonly timeoutMs?: number;
  /** Reads a 2xx body as it arrives (`MatrixRequest.readBody`); resolves to its value. */
  readonly readBody?: MatrixRequest['readBody'];
}

/** Signed HTTPS requests to other homeservers. */
export class FederationClient {
  readonly #ctx: ServerContext;
  readonly #fetch: HttpsFetch;
  /** {@link #fetch} with a policy refusal turned into a final `TransportError`. */
  readonly #checkedFetch: typeof fetch;
  readonly #wellKnownFetch: HttpsFetch;
  readonly #clients = new Map<string, MatrixHttpClient>();
  readonly resolver: ServerResolver;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    const { caFile, insecureSkipTlsVerify, hosts } = ctx.config.federation;
    const ca = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
    const addressPolicy = new AddressPolicy(
      ctx.config.federation,
      'the address of the federation destination',
    );
    let resolver: ServerResolver | undefined;
    this.#fetch = createHttpsFetch({ ca, insecureSkipTlsVerify, addressPolicy }, async (url) => {
      if (resolver === undefined) throw new Error('resolver not ready');
      return resolver.resolve(url.host);
    });
    this.#checkedFetch = refusalsFinal(this.#fetch);
    const wellKnownFetch = createHttpsFetch(
      { ca, insecureSkipTlsVerify, addressPolicy },
      // The server name's port 443, or where a redirect pointed (https URLs only).
      async (url) => ({
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port === '' ? 443 : Number(url.port),
        tlsName: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        hostHeader: url.host,
      }),
    );
    this.#wellKnownFetch = wellKnownFetch;
    resolver = new ServerResolver(
      hosts,
      (url) => fetchWellKnown(wellKnownFetch, url),
      ctx.now,
      createSrvLookup(ctx.config.federation.dnsServers),
    );
    this.resolver = resolver;
  }

  /**
   * Sends `method path` to `destination` (a server name) and resolves to the JSON body of the
   * 2xx answer; rejects with a `MatrixError` (error answer) or `TransportError` (network, TLS).
   */
  async request<T = Record<string, unknown>>(
    destination: string,
    method: MatrixRequest['method'],
    path: string,
    body?: unknown,
    options: FederationRequestOptions = {},
  ): Promise<T> {
    if (destination === this.#ctx.config.serverName) {
      throw new RangeError('a server does not send federation requests to itself');
    }
    return this.#clientFor(destination).request<T>({
      method,
      path,
      ...(body !== undefined ? { body } : {}),
      ...(options.query !== undefined ? { query: options.query } : {}),
      ...(options.retry !== undefined ? { retry: options.retry } : {}),
      ...(options.authenticated !== undefined ? { authenticated: options.authenticated } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.readBody !== undefined ? { readBody: options.readBody } : {}),
    });
  }

  /** Closes the kept-alive connections to other servers (server shutdown). */
  close(): void {
    this.#fetch.close();
    this.#wellKnownFetch.close();
  }

  #clientFor(destination: string): MatrixHttpClient {
    let client = this.#clients.get(destination);
    if (client === undefined) {
      client = new MatrixHttpClient({
        baseUrl: `https://${destination}`,
        federation: {
          origin: this.#ctx.config.serverName,
          destination,
          signingKey: this.#ctx.signingKey,
        },
        fetch: this.#checkedFetch,
        timeoutMs: 20_000,
        retry: { maxAttempts: 2 },
      });
      this.#clients.set(destination, client);
    }
    return client;
  }
}

/**
 * `fetch` whose policy refusals reject with a `TransportError`, which `MatrixHttpClient` does not
 * retry (it retries any other thrown error as a network failure): asking again cannot help.
 */
function refusalsFinal(inner: typeof fetch): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    try {
      return await inner(input, init);
    } catch (cause) {
      if (!(cause instanceof DeniedAddressError)) throw cause;
      const url = new URL(input instanceof Request ? input.url : input);
      throw new TransportError(
        'network',
        `${cause.message} (see federation.allow_private_addresses and ip_range_whitelist)`,
        { method: init?.method ?? 'GET', path: url.pathname, cause },
      );
    }
  }) as typeof fetch;
}
