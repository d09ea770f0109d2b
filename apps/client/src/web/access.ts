/**
 * Who may use the local web API. `weft web` prints a URL with a random per-launch token; opening
 * it once stores the token in an HttpOnly, SameSite=Strict cookie. Every API request must then
 *
 * - carry that cookie (compared in constant time),
 * - name this server in `Host` (a DNS-rebinding page has its own host name there),
 * - and, when it changes something, come from this origin: `Origin` (if sent) is ours,
 *   `Sec-Fetch-Site` (if sent) is `same-origin`, and the body is `application/json`, which a
 *   cross-site form cannot send without a CORS preflight this server never grants.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The cookie's name carries the port: browsers keep cookies per host, not per port, so two
 * `weft web` processes on one machine would otherwise overwrite each other's.
 */
export function cookieName(port: number): string {
  return `weft_web_${port}`;
}

/** A fresh launch token: 256 bits from the platform CSPRNG. */
export function newLaunchToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time equality of two secrets of any length (compares their SHA-256 digests). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The value of one cookie in a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` value that grants a page access. */
export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Why a request is refused, or undefined if it may proceed. */
export type Refusal = 'bad-host' | 'no-session' | 'cross-origin' | 'not-json';

export class AccessGuard {
  readonly #token: string;
  readonly #port: number;
  readonly #hosts: ReadonlySet<string>;

  /** `hosts`: the `Host` header values this server answers to (e.g. `127.0.0.1:8080`). */
  constructor(token: string, port: number, hosts: Iterable<string>) {
    this.#token = token;
    this.#port = port;
    this.#hosts = new Set(hosts);
  }

  get token(): string {
    return this.#token;
  }

  hostAllowed(request: IncomingMessage): boolean {
    const host = request.headers.host;
    return host !== undefined && this.#hosts.has(host.toLowerCase());
  }

  /** Checks a request to the API; `changes` is true for requests that change state. */
  check(request: IncomingMessage, changes: boolean): Refusal | undefined {
    if (!this.hostAllowed(request)) return 'bad-host';
    const cookie = cookieValue(request.headers.cookie, cookieName(this.#port));
    if (cookie === undefined || !sameSecret(cookie, this.#token)) return 'no-session';
    if (!changes) return undefined;
    const origin = request.headers.origin;
    if (origin !== undefined && !this.#hosts.has(origin.replace(/^http:\/\//, '').toLowerCase()))
      return 'cross-origin';
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return 'cross-origin';
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/json(;|$)/i.test(type)) return 'not-json';
    return undefined;
  }
}
