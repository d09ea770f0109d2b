/**
 * A `fetch` over `node:https` that trusts an extra CA: Node's global fetch cannot be given a CA
 * per request, and federation must verify certificates against the operator's (or a test's) CA
 * without switching verification off. `connectTo` sends the TCP connection to the address server
 * discovery found while SNI, certificate checks and `Host` use the server name.
 */
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

/** TLS settings of {@link createHttpsFetch}. */
export interface HttpsFetchOptions {
  /** Extra trusted CA certificates (PEM), added to Node's default roots. */
  readonly ca?: string | undefined;
  /** `true` only when the operator set `insecure_skip_tls_verify`. */
  readonly insecureSkipTlsVerify?: boolean;
}

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

/** Returns a fetch-shaped function for `MatrixHttpClient`. */
export function createHttpsFetch(
  options: HttpsFetchOptions,
  connectTo: ConnectTarget,
): typeof fetch {
  const defaultCa = options.ca === undefined ? undefined : addDefaultRoots(options.ca);
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const target = await connectTo(url);
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
    return await new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: target.host,
          port: target.port,
          method: init.method ?? 'GET',
          path: url.pathname + url.search,
          headers,
          servername: target.tlsName,
          ...(defaultCa !== undefined ? { ca: defaultCa } : {}),
          rejectUnauthorized: options.insecureSkipTlsVerify !== true,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [key, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') responseHeaders.set(key, value);
              else if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
            }
            const status = res.statusCode ?? 502;
            const nullBody = status === 204 || status === 304;
            resolve(
              new Response(nullBody ? null : Buffer.concat(chunks), {
                status,
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      req.on('error', reject);
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) req.destroy(signal.reason as Error);
        signal.addEventListener('abort', () => req.destroy(signal.reason as Error), { once: true });
      }
      req.end(body);
    });
  }) as typeof fetch;
}

function addDefaultRoots(extra: string): string[] {
  return [...rootCertificates, extra];
}
