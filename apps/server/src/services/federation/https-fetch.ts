/**
 * A `fetch` over `node:https` that trusts an extra CA: Node's global fetch cannot be given a CA
 * per request, and federation must verify certificates against the operator's (or a test's) CA
 * without switching verification off. `connectTo` sends the TCP connection to the address server
 * discovery found while SNI, certificate checks and `Host` use the server name.
 *
 * Connections are kept alive, one bounded pool per destination address and TLS name: a TLS
 * handshake per request capped federation throughput (every transaction, key fetch and
 * backfill paid one). Idle sockets close after {@link IDLE_SOCKET_MS}, below the 5 s keep-alive
 * window of Node servers (and Node's agent also honours a server's `Keep-Alive: timeout=` hint),
 * so a request rarely lands on a socket the other side is closing.
 *
 * With an `addressPolicy` (federation's, `federation.allow_private_addresses` and
 * `ip_range_whitelist`), the address connected to is checked: an IP literal from discovery as
 * given, a host name (an SRV target, a delegated or plain server name) through the policy's
 * socket `lookup`, which resolves it once, refuses it if any address is denied and connects to
 * the checked one — so a second DNS answer (rebinding) is never used. A refusal rejects with
 * `DeniedAddressError` (services/core/address-policy.ts) before any byte is sent.
 */
import type { IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';

import type { AddressPolicy } from '../core/address-policy.ts';

/** TLS settings of {@link createHttpsFetch}. */
export interface HttpsFetchOptions {
  /** Extra trusted CA certificates (PEM), added to Node's default roots. */
  readonly ca?: string | undefined;
  /** `true` only when the operator set `insecure_skip_tls_verify`. */
  readonly insecureSkipTlsVerify?: boolean;
  /** Which addresses connections may go to; absent → any. */
  readonly addressPolicy?: AddressPolicy | undefined;
}

/** Sockets per destination at most (requests beyond wait for one); idle ones kept at most. */
const MAX_SOCKETS_PER_DESTINATION = 16;
const MAX_IDLE_SOCKETS_PER_DESTINATION = 4;
/** An idle kept-alive socket is closed after this long. */
export const IDLE_SOCKET_MS = 4_000;

/** Where to connect for a URL whose host is a server name. */
export type ConnectTarget = (url: URL) => Promise<ResolvedServer>;

/** Where a server name's federation API is reached (spec server-server-api "Resolving server names"). */
export interface ResolvedServer {
  /** Address to open the TCP connection to. */
  readonly host: string;
  readonly port: number;
  /** Name for SNI and the certificate check. */
  readonly tlsName: string;
  /** The `Host` header. */
  readonly hostHeader: string;
}

/** A fetch-shaped function whose kept-alive connections can be closed (server shutdown). */
export type HttpsFetch = typeof fetch & {
  /** Closes every pooled connection; requests in flight finish. */
  close(): void;
};

/** Returns a fetch-shaped function for `MatrixHttpClient`. */
export function createHttpsFetch(options: HttpsFetchOptions, connectTo: ConnectTarget): HttpsFetch {
  // Built once: given `ca` itself, every new connection parsed Node's ~120 root certificates
  // plus the extra CA again (8–9 ms of CPU per connection, on the event loop).
  const secureContext =
    options.ca === undefined ? undefined : createSecureContext({ ca: addDefaultRoots(options.ca) });
  const agents = new Map<string, Agent>();
  const agentFor = (target: ResolvedServer): Agent => {
    const key = `${target.host}\u0000${target.port}\u0000${target.tlsName}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = new Agent({
        keepAlive: true,
        maxSockets: MAX_SOCKETS_PER_DESTINATION,
        maxFreeSockets: MAX_IDLE_SOCKETS_PER_DESTINATION,
        // Socket inactivity timeout: the agent destroys a free socket when it fires.
        timeout: IDLE_SOCKET_MS,
        scheduling: 'lifo',
      });
      agents.set(key, agent);
    }
    return agent;
  };
  const httpsFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const target = await connectTo(url);
    const policy = options.addressPolicy;
    policy?.checkHost(target.host);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    headers['host'] = target.hostHeader;
    let body: Uint8Array | undefined;
    if (typeof init.body === 'string') body = new TextEncoder().encode(init.body);
    else if (init.body instanceof Uint8Array) body = init.body;
    else if (init.body != null) throw new TypeError('httpsFetch: body must be a string or bytes');
    if (body !== undefined) headers['content-length'] = String(body.length);
    const send = (mayRetry: boolean): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: target.host,
            port: target.port,
            method: init.method ?? 'GET',
            path: url.pathname + url.search,
            headers,
            servername: target.tlsName,
            ...(secureContext !== undefined ? { secureContext } : {}),
            rejectUnauthorized: options.insecureSkipTlsVerify !== true,
            agent: agentFor(target),
            ...(policy !== undefined ? { lookup: policy.lookup } : {}),
          },
          (res) => {
            const responseHeaders = new Headers();
            for (const [key, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') responseHeaders.set(key, value);
              else if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
            }
            const status = res.statusCode ?? 502;
            const nullBody = status === 204 || status === 304;
            if (nullBody) res.resume();
            // Resolved at the headers, as fetch does: a big body (a send_join answer) is read
            // as it arrives.
            resolve(
              new Response(nullBody ? null : liveBody(res), { status, headers: responseHeaders }),
            );
          },
        );
        req.on('error', (error: NodeJS.ErrnoException) => {
          // A kept-alive socket the server closed while idle fails before any answer: the
          // request never reached it, so one fresh attempt is safe (Node's documented recipe).
          if (
            mayRetry &&
            req.reusedSocket &&
            error.code === 'ECONNRESET' &&
            !init.signal?.aborted
          ) {
            send(false).then(resolve, reject);
          } else {
            reject(error);
          }
        });
        const signal = init.signal;
        if (signal) {
          if (signal.aborted) req.destroy(signal.reason as Error);
          signal.addEventListener('abort', () => req.destroy(signal.reason as Error), {
            once: true,
          });
        }
        req.end(body);
      });
    return await send(true);
  }) as HttpsFetch;
  httpsFetch.close = () => {
    for (const agent of agents.values()) agent.destroy();
    agents.clear();
  };
  return httpsFetch;
}

/**
 * The response's bytes as a body stream, chunk by chunk as they arrive: the received Buffers
 * themselves (`new Response(Buffer.concat(chunks))` copied a 17.5 MB send_join answer twice
 * more). The socket is paused while 16 chunks wait unread, so a slow reader holds back the
 * sender rather than filling memory; the client's timeout still ends a stalled body.
 */
function liveBody(res: IncomingMessage): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        res.on('data', (chunk: Buffer) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) res.pause();
        });
        res.on('end', () => {
          settled = true;
          controller.close();
        });
        res.on('error', (error) => {
          if (settled) return;
          settled = true;
          controller.error(error);
        });
        res.on('close', () => {
          if (settled) return;
          settled = true;
          controller.error(new Error('the connection closed before the body ended'));
        });
      },
      pull() {
        res.resume();
      },
      cancel(reason) {
        settled = true;
        res.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 16 },
  );
}

function addDefaultRoots(extra: string): string[] {
  return [...rootCertificates, extra];
}
