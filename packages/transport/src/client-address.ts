/**
 * Client addresses: which address a request comes from (`X-Forwarded-For` believed from trusted
 * proxies only), and the key per-address limits count it under (an IPv6 client by its /64).
 */
import type { HeaderLookup } from './header-object.ts';

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy, the right-most
 * `X-Forwarded-For` entry that is not a trusted proxy itself (every entry trusted: the
 * left-most). An empty entry ends the walk at the last address trusted.
 */
export function forwardedClient(
  peer: string | undefined,
  headers: HeaderLookup,
  trusted: ((address: string) => boolean) | undefined,
): string | undefined {
  if (peer === undefined || trusted === undefined || !trusted(peer)) return peer;
  const forwarded = headers.get('x-forwarded-for');
  if (forwarded === null) return peer;
  const hops = forwarded.split(',');
  let address = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim();
    if (hop === '') break;
    address = hop;
    if (!trusted(hop)) break;
  }
  return address;
}

/**
 * The key per-address limits count a client address under: an IPv6 address by its /64 prefix
 * (one client, a home or a phone, usually holds a whole /64 and can pick any address in it, as
 * Synapse's and others' limiters assume), written `2001:db8:0:0::/64` however the address was
 * spelt; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, a dual-stack socket's) as its IPv4
 * address; anything else (IPv4, or a string that is no IP address) as it is.
 *
 * @example clientAddressKey('2001:db8::1') === clientAddressKey('2001:0DB8:0:0:ff::2')
 */
export function clientAddressKey(address: string): string {
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  if (groups === undefined) return address;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const high = groups[6] as number;
    const low = groups[7] as number;
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

const HEXTET = /^[0-9a-f]{1,4}$/i;
const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The eight 16-bit groups of an IPv6 address in any RFC 4291 §2.2 spelling (`::` for a run of
 * zero groups, a dotted IPv4 tail, a `%zone` suffix ignored); `undefined` if it is none.
 */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf('%');
  const text = zone === -1 ? address : address.slice(0, zone);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halvesGroups(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? halvesGroups(halves[1] as string, true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head, ...new Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tail];
}

/** The groups of one side of `::` (empty text: none); a dotted quad only at the very end. */
function halvesGroups(text: string, last: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (HEXTET.test(part)) {
      groups.push(Number.parseInt(part, 16));
      continue;
    }
    const quad = last && i === parts.length - 1 ? DOTTED_QUAD.exec(part) : null;
    if (quad === null) return undefined;
    const bytes = quad.slice(1).map(Number);
    if (bytes.some((byte) => byte > 255)) return undefined;
    const [a, b, c, d] = bytes as [number, number, number, number];
    groups.push((a << 8) | b, (c << 8) | d);
  }
  return groups;
}
