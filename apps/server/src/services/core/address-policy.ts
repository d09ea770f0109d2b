/**
 * Which addresses an outbound request to a URL chosen by a user may connect to: push gateways
 * (`push:` in weft.yaml, services/pushers), URL previews (`media.url_preview:`,
 * services/media/preview.ts) and federation (`federation:`, services/federation/https-fetch.ts:
 * any user can name any server, and any server name can resolve anywhere). Such URLs are chosen
 * by clients, so without a check any user could make the server reach its own loopback or the
 * operator's private network (SSRF). The check
 * runs on the addresses the connection actually uses: an IP literal is checked as written; a host
 * name is resolved once (every address, `all: true`), refused if ANY address is denied, and the
 * connection goes to the checked addresses through the socket's `lookup`, so a second resolution
 * (DNS rebinding) never happens.
 *
 * {@link AddressPolicy.request} is the one request made that way for the callers that fetch a
 * URL themselves (URL previews, a remote media `Location`, push delivery); federation's requests
 * go through services/federation/https-fetch.ts, which wires the same `lookup` into its pooled
 * connections.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

import { parseCidr } from '../../config.ts';

/** The options of one policy: `allow_private_addresses` and `ip_range_whitelist`. */
export interface AddressPolicyConfig {
  readonly allowPrivateAddresses: boolean;
  /** CIDRs or single addresses allowed despite the deny list. */
  readonly ipRangeWhitelist: readonly string[];
}

/**
 * Ranges refused by default (as Synapse's default `ip_range_blacklist`, plus `0.0.0.0/8`,
 * `240.0.0.0/4`, `::/128`, `::/96`, `64:ff9b:1::/48` and the IPv6 forms that embed an IPv4 address). IPv4-mapped IPv6
 * addresses (`::ffff:127.0.0.1`) are matched by their IPv4 ranges.
 */
export const DENIED_RANGES: readonly string[] = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // shared address space (CGNAT)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // TEST-NET-1
  '192.88.99.0/24', // 6to4 relay anycast
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, and 255.255.255.255
  '::/128', // unspecified
  '::1/128', // loopback
  '::/96', // IPv4-compatible (deprecated)
  '64:ff9b::/96', // NAT64
  '64:ff9b:1::/48', // local-use NAT64 (RFC 8215)
  '100::/64', // discard-only
  '2001::/32', // Teredo
  '2001:db8::/32', // documentation
  '2002::/16', // 6to4
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
];

/** An address refused by the policy (never retried). */
export class DeniedAddressError extends Error {
  override readonly name = 'DeniedAddressError';
}

/** A {@link AddressPolicy.request} that was not answered, body included, by its deadline. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** What {@link AddressPolicy.request} sends, and until when. */
export interface PolicyRequestOptions {
  /** `GET` when absent. */
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Uint8Array;
  /** Extra trusted CA certificates (PEM), added to Node's default roots (`https:` only). */
  readonly ca?: string | undefined;
  /** When (`Date.now()` milliseconds) the request and its answer's body must be done. */
  readonly deadline: number;
  /** Ends the request early (a shutdown); it then fails with an `AbortError`. */
  readonly signal?: AbortSignal | undefined;
}

function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed === undefined) throw new Error(`not a CIDR: ${cidr}`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list;
}

/**
 * {@link AddressPolicy.request}'s pooling, as Node's global agents do it: kept alive, the newest
 * free socket reused first, an idle one closed after 5 s.
 */
const AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const;

export class AddressPolicy {
  readonly #allowAll: boolean;
  /** What the refused address is, in error messages (`the push gateway address`). */
  readonly #what: string;
  readonly #denied = blockListOf(DENIED_RANGES);
  readonly #allowed: BlockList;
  /**
   * The kept-alive connections of {@link request}, this policy's own: an agent hands a free
   * socket to the next request for the same host and port whatever its `lookup`, so in a shared
   * pool a request could reuse a connection made under another policy's checks (or none).
   */
  readonly #httpAgent = new HttpAgent(AGENT_OPTIONS);
  readonly #httpsAgent = new HttpsAgent(AGENT_OPTIONS);
  /**
   * TLS contexts trusting Node's roots and an extra CA, by the CA's PEM text: built once, since
   * building one parses every root certificate (≈ 140), which `ca` given per request would do on
   * each new connection.
   */
  readonly #secureContexts = new Map<string, SecureContext>();

  constructor(config: AddressPolicyConfig, what = 'the address') {
    this.#what = what;
    this.#allowAll = config.allowPrivateAddresses;
    this.#allowed = blockListOf(config.ipRangeWhitelist);
  }

  /** Whether the host may be reached at `address` (an IP literal). */
  allows(address: string): boolean {
    if (this.#allowAll) return true;
    const version = isIP(address);
    if (version === 0) return false;
    const family = version === 4 ? 'ipv4' : 'ipv6';
    return this.#allowed.check(address, family) || !this.#denied.check(address, family);
  }

  /**
   * Throws {@link DeniedAddressError} for a URL whose host is a denied IP literal (a socket
   * never looks an IP literal up, so the `lookup` below would not see it).
   */
  checkUrl(url: URL): void {
    this.checkHost(url.hostname.replace(/^\[(.*)\]$/, '$1'));
  }

  /** {@link checkUrl} for a bare host (an IP literal is checked; a name is left to `lookup`). */
  checkHost(host: string): void {
    if (isIP(host) !== 0 && !this.allows(host)) {
      throw new DeniedAddressError(`${this.#what} is not allowed: ${host}`);
    }
  }

  /**
   * Whether a URL may be used (`POST /pushers/set`): its host, an IP literal or every
   * address the name resolves to, is allowed. A name that does not resolve now passes (the
   * connection's `lookup` checks again at each request).
   */
  async allowsUrl(url: URL): Promise<boolean> {
    if (this.#allowAll) return true;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) !== 0) return this.allows(host);
    const addresses = await new Promise<LookupAddress[]>((resolve) => {
      dnsLookup(host, { all: true }, (error, list) => resolve(error ? [] : list));
    });
    return addresses.every((entry) => this.allows(entry.address));
  }

  /**
   * One `http:` or `https:` request to `url` (no redirects followed): the URL's host checked by
   * {@link checkUrl}, a name resolved through {@link lookup}, certificates verified (Node's
   * default, never switched off here). Resolves at the answer's headers with the response,
   * whose body the caller reads (or destroys); rejects with {@link DeniedAddressError} before
   * anything is sent to a refused address.
   *
   * At `deadline` the exchange is cut, whether the headers or the body are late: before the
   * answer the promise rejects with {@link RequestTimeoutError}; after it the response is
   * destroyed with that error, so a reader sees `aborted` with the response's `errored` set to
   * it (and then an `error`).
   */
  request(url: URL, options: PolicyRequestOptions): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      try {
        this.checkUrl(url);
      } catch (error) {
        reject(error);
        return;
      }
      const https = url.protocol === 'https:';
      const send = https ? httpsRequest : httpRequest;
      const outgoing = send(url, {
        method: options.method ?? 'GET',
        agent: https ? this.#httpsAgent : this.#httpAgent,
        ...(options.headers !== undefined ? { headers: options.headers } : {}),
        lookup: this.lookup,
        // `ca` (the extra CA alone) also keeps the agent's pools apart by CA; the connection
        // itself uses the context built once.
        ...(https && options.ca !== undefined
          ? { ca: options.ca, secureContext: this.#secureContextFor(options.ca) }
          : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      let response: IncomingMessage | undefined;
      const timer = setTimeout(
        () => {
          const error = new RequestTimeoutError('timed out');
          if (response === undefined) outgoing.destroy(error);
          else response.destroy(error);
        },
        Math.max(1, options.deadline - Date.now()),
      );
      outgoing.on('response', (answer: IncomingMessage) => {
        response = answer;
        // Every response closes (read to its end, destroyed or cut), so the timer never
        // outlives its request, whose socket may serve another one once kept alive.
        answer.once('close', () => clearTimeout(timer));
        resolve(answer);
      });
      outgoing.on('error', (error) => {
        if (response === undefined) clearTimeout(timer);
        reject(error);
      });
      outgoing.end(options.body);
    });
  }

  /** {@link #secureContexts}' context for `ca`, built at its first use. */
  #secureContextFor(ca: string): SecureContext {
    let context = this.#secureContexts.get(ca);
    if (context === undefined) {
      context = createSecureContext({ ca: [...rootCertificates, ca] });
      this.#secureContexts.set(ca, context);
    }
    return context;
  }

  /** A socket `lookup` that resolves every address and refuses the host if any is denied. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      const denied = list.find((entry) => !this.allows(entry.address));
      if (list.length === 0 || denied !== undefined) {
        const why = denied === undefined ? 'no address' : denied.address;
        const error = new DeniedAddressError(`${this.#what} is not allowed: ${hostname} → ${why}`);
        return callback(error, '', 0);
      }
      if (options.all) return (callback as unknown as AllCallback)(null, list);
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

type AllCallback = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;
