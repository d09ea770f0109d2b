/**
 * SRV record lookup for server discovery (spec server-server-api "Resolving server names",
 * steps 3.3/3.4 and 4/5: `_matrix-fed._tcp.<hostname>`, then the deprecated
 * `_matrix._tcp.<hostname>`). Uses node:dns's own resolver (c-ares, not the system's
 * getaddrinfo), so a deployment — or a test with a DNS responder on loopback — can name the DNS
 * servers to ask (`federation.dns_servers`).
 */
import { Resolver } from 'node:dns/promises';

/** One SRV answer. */
export interface SrvTarget {
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

/** Looks up the SRV records of a full record name; `[]` when there are none. */
export type SrvLookup = (recordName: string) => Promise<SrvTarget[]>;

/**
 * An SRV lookup through `servers` (`ip` or `ip:port`; the system's DNS servers when empty).
 * Any failure — no such name, no record, timeout, refused — answers `[]`: discovery then goes
 * on to its next step, which is what the spec asks when there is no record.
 */
export function createSrvLookup(servers: readonly string[] = [], timeoutMs = 5_000): SrvLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return async (recordName) => {
    try {
      return await resolver.resolveSrv(recordName);
    } catch {
      return [];
    }
  };
}

/**
 * The record to use (RFC 2782): lowest priority first; among equal priorities the heaviest
 * weight (a deterministic choice — one federation connection needs one target, not load
 * spreading). A target of "." means the service is decidedly not offered: no target.
 */
export function pickSrvTarget(records: readonly SrvTarget[]): SrvTarget | undefined {
  const sorted = [...records].sort((x, y) => x.priority - y.priority || y.weight - x.weight);
  const first = sorted[0];
  if (first === undefined || first.name === '' || first.name === '.') return undefined;
  return first;
}
