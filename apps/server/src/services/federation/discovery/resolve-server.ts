/**
 * Server discovery: turns a server name into where its federation API listens. Spec
 * https://spec.matrix.org/v1.19/server-server-api/#resolving-server-names:
 * 0. An explicit `federation.hosts` entry wins (private federations, tests on loopback).
 * 1. An IP literal: connect there (port 8448 unless given).
 * 2. A hostname with an explicit port: connect there; TLS name = hostname, Host = name.
 * 3. `GET https://<hostname>/.well-known/matrix/server`; a `m.server` of `host[:port]` delegates:
 *    3.1 an IP literal, 3.2 or a host with a port, is used as given;
 *    3.3 else the SRV record `_matrix-fed._tcp.<delegated>`, 3.4 else the deprecated
 *    `_matrix._tcp.<delegated>` — connect to its target and port;
 *    3.5 else `<delegated>:8448`. TLS name and Host are the delegated host throughout.
 * 4. Without a usable .well-known: SRV `_matrix-fed._tcp.<hostname>`, 5. then `_matrix._tcp`
 *    (deprecated) — TLS name and Host stay the hostname; 6. else `<hostname>:8448`.
 * Results are cached: a delegation as long as its `.well-known` answer allows (its
 * Cache-Control, else 24 hours, at most 48 — well-known.ts), no usable `.well-known` for five
 * minutes (spec: errors "cached for up to an hour").
 */
import type { ResolvedServer } from '../https-fetch.ts';
import { pickSrvTarget, type SrvLookup } from './srv-lookup.ts';
import { WELL_KNOWN_DEFAULT_TTL_MS, WellKnownResponse } from './well-known.ts';

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

/**
 * Fetches a URL over the federation TLS settings, answering the parsed JSON body (a
 * {@link WellKnownResponse} when it knows how long the answer may be cached) or undefined.
 */
export type WellKnownFetch = (url: string, target: ResolvedServer) => Promise<unknown>;

/** Resolves server names, with a cache. */
export class ServerResolver {
  readonly #hosts: Readonly<Record<string, string>>;
  readonly #fetchWellKnown: WellKnownFetch;
  readonly #now: () => number;
  readonly #lookupSrv: SrvLookup;
  readonly #cache = new Map<string, { value: ResolvedServer; expires: number }>();

  constructor(
    hosts: Readonly<Record<string, string>>,
    fetchWellKnown: WellKnownFetch,
    now: () => number,
    lookupSrv: SrvLookup = async () => [],
  ) {
    this.#hosts = hosts;
    this.#fetchWellKnown = fetchWellKnown;
    this.#now = now;
    this.#lookupSrv = lookupSrv;
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
    // Steps 1 and 2.
    if (isIpLiteral(host) || port !== undefined) {
      return { host, port: port ?? DEFAULT_PORT, tlsName: host, hostHeader: serverName };
    }
    let value: ResolvedServer | undefined;
    let ttl = FAILURE_TTL_MS;
    const delegated = await this.#wellKnown(host);
    if (delegated !== undefined) {
      value = await this.#delegated(delegated.server);
      ttl = delegated.ttlMs;
    } else {
      // Steps 4-6: SRV on the server name itself; certificate and Host stay the server name.
      value = (await this.#srv(host)) ?? {
        host,
        port: DEFAULT_PORT,
        tlsName: host,
        hostHeader: host,
      };
    }
    this.#cache.set(serverName, { value, expires: this.#now() + ttl });
    return value;
  }

  /** Step 3: the `m.server` of `https://<host>/.well-known/matrix/server`, if usable. */
  async #wellKnown(host: string): Promise<{ server: string; ttlMs: number } | undefined> {
    const direct: ResolvedServer = { host, port: 443, tlsName: host, hostHeader: host };
    try {
      const answer = await this.#fetchWellKnown(
        `https://${host}/.well-known/matrix/server`,
        direct,
      );
      const [body, ttlMs] =
        answer instanceof WellKnownResponse
          ? [answer.body, answer.maxAgeMs]
          : [answer, WELL_KNOWN_DEFAULT_TTL_MS];
      const delegated = (body as Record<string, unknown> | undefined)?.['m.server'];
      if (typeof delegated !== 'string') return undefined;
      splitHostPort(delegated); // throws on a malformed value: treated as no .well-known
      return { server: delegated, ttlMs };
    } catch {
      return undefined;
    }
  }

  /** Steps 3.1-3.5: where a delegated `host[:port]` points. */
  async #delegated(delegated: string): Promise<ResolvedServer> {
    const target = splitHostPort(delegated);
    if (isIpLiteral(target.host) || target.port !== undefined) {
      return {
        host: target.host,
        port: target.port ?? DEFAULT_PORT,
        tlsName: target.host,
        hostHeader: delegated,
      };
    }
    return (
      (await this.#srv(target.host)) ?? {
        host: target.host,
        port: DEFAULT_PORT,
        tlsName: target.host,
        hostHeader: target.host,
      }
    );
  }

  /**
   * `_matrix-fed._tcp.<name>`, then the deprecated `_matrix._tcp.<name>`: connect to the
   * record's target, but expect a certificate for `name` and send it as Host.
   */
  async #srv(name: string): Promise<ResolvedServer | undefined> {
    for (const service of ['_matrix-fed._tcp', '_matrix._tcp']) {
      const target = pickSrvTarget(await this.#lookupSrv(`${service}.${name}`));
      if (target !== undefined) {
        return { host: target.name, port: target.port, tlsName: name, hostHeader: name };
      }
    }
    return undefined;
  }
}
