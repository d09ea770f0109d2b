/**
 * Server discovery: turns a server name into where its federation API listens. Spec
 * https://spec.matrix.org/v1.19/server-server-api/#resolving-server-names, reduced to what Weft
 * supports (no SRV records):
 * 0. An explicit `federation.hosts` entry wins (private federations, tests on loopback).
 * 1. An IP literal, or a name with an explicit port: connect there; TLS name and Host = the name.
 * 2. `GET https://<name>/.well-known/matrix/server`; a `m.server` of `host[:port]` delegates
 *    (port 8448 when absent); TLS name and Host are the delegated host.
 * 3. Otherwise `<name>:8448`.
 * Results are cached (well-known answers for an hour, failures for five minutes).
 */
import type { ResolvedServer } from '../https-fetch.ts';

const WELL_KNOWN_TTL_MS = 60 * 60 * 1000;
const FAILURE_TTL_MS = 5 * 60 * 1000;
const DEFAULT_PORT = 8448;

function splitHostPort(value: string): { host: string; port: number | undefined } {
  const ipv6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(value);
  if (ipv6?.[1] !== undefined) {
    return { host: ipv6[1], port: ipv6[2] === undefined ? undefined : Number(ipv6[2]) };
  }
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  if (match?.[1] === undefined) throw new RangeError(`not a server name: ${value}`);
  return { host: match[1], port: match[2] === undefined ? undefined : Number(match[2]) };
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

/** Fetches a URL over the federation TLS settings, answering the parsed JSON body or undefined. */
export type WellKnownFetch = (url: string, target: ResolvedServer) => Promise<unknown>;

/** Resolves server names, with a cache. */
export class ServerResolver {
  readonly #hosts: Readonly<Record<string, string>>;
  readonly #fetchWellKnown: WellKnownFetch;
  readonly #now: () => number;
  readonly #cache = new Map<string, { value: ResolvedServer; expires: number }>();

  constructor(
    hosts: Readonly<Record<string, string>>,
    fetchWellKnown: WellKnownFetch,
    now: () => number,
  ) {
    this.#hosts = hosts;
    this.#fetchWellKnown = fetchWellKnown;
    this.#now = now;
  }

  /** Where `serverName`'s federation API is. */
  async resolve(serverName: string): Promise<ResolvedServer> {
    const explicit = this.#hosts[serverName];
    if (explicit !== undefined) {
      const { host, port } = splitHostPort(explicit);
      const name = splitHostPort(serverName).host;
      return { host, port: port ?? DEFAULT_PORT, tlsName: name, hostHeader: serverName };
    }
    const cached = this.#cache.get(serverName);
    if (cached !== undefined && cached.expires > this.#now()) return cached.value;
    const { host, port } = splitHostPort(serverName);
    if (isIpLiteral(host) || port !== undefined) {
      return { host, port: port ?? DEFAULT_PORT, tlsName: host, hostHeader: serverName };
    }
    const direct: ResolvedServer = { host, port: 443, tlsName: host, hostHeader: host };
    let value: ResolvedServer = { host, port: DEFAULT_PORT, tlsName: host, hostHeader: host };
    let ttl = FAILURE_TTL_MS;
    try {
      const body = await this.#fetchWellKnown(`https://${host}/.well-known/matrix/server`, direct);
      const delegated = (body as Record<string, unknown> | undefined)?.['m.server'];
      if (typeof delegated === 'string') {
        const target = splitHostPort(delegated);
        value = {
          host: target.host,
          port: target.port ?? DEFAULT_PORT,
          tlsName: target.host,
          hostHeader: delegated,
        };
        ttl = WELL_KNOWN_TTL_MS;
      }
    } catch {
      // No usable .well-known: step 3.
    }
    this.#cache.set(serverName, { value, expires: this.#now() + ttl });
    return value;
  }
}
