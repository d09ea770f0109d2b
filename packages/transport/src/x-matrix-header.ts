/**
 * The `Authorization: X-Matrix …` header (server-server API, "Request Authentication",
 * https://spec.matrix.org/v1.19/server-server-api/#request-authentication), whose grammar is
 * RFC 9110 §11.4 credentials:
 *
 *     credentials = auth-scheme 1*SP #auth-param
 *     auth-param  = token BWS "=" BWS ( token / quoted-string )
 *
 * The spec adds: names are case-insensitive, order does not matter, spaces and tabs may surround
 * the commas, quoted values may hold backslash escapes, unknown parameters are ignored, and
 * recipients should accept colons in unquoted values.
 */
import { TransportError } from './errors.ts';

/** The parameters of an X-Matrix header. */
export interface XMatrixParams {
  /** Server name of the sender. */
  readonly origin: string;
  /** Server name of the receiver; optional on receipt for older senders (added in v1.3). */
  readonly destination?: string;
  /** Key ID, e.g. `ed25519:key1`. */
  readonly key: string;
  /** Unpadded Base64 signature of the request JSON. */
  readonly sig: string;
}

// RFC 9110 §5.6.2 tchar, plus ':' (spec: "allow colons … without requiring the value to be
// enclosed in quotes") and '/' (unpadded Base64 signatures contain it and some senders don't
// quote them; accepting it is harmless, the signature is verified anyway).
const NAME_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const IS_NAME = new Uint8Array(128);
const IS_VALUE = new Uint8Array(128);
for (const ch of NAME_CHARS) {
  IS_NAME[ch.charCodeAt(0)] = 1;
  IS_VALUE[ch.charCodeAt(0)] = 1;
}
IS_VALUE[0x3a] = 1; // ':'
IS_VALUE[0x2f] = 1; // '/'

function bad(detail: string): TransportError {
  return new TransportError('bad-header', detail);
}

/**
 * Parses an X-Matrix `Authorization` header value. Throws `TransportError('bad-header')` if the
 * scheme is not `X-Matrix` (case-insensitive), the parameter list is malformed, a parameter is
 * repeated, or `origin`, `key` or `sig` is missing. Messages never quote the signature.
 */
export function parseXMatrixHeader(header: string): XMatrixParams {
  if (typeof header !== 'string') throw new TypeError('header must be a string');
  const scheme = /^x-matrix +/i.exec(header);
  if (scheme === null) throw bad('not an X-Matrix authorization header');
  const params = new Map<string, string>();
  let i = scheme[0].length;
  const n = header.length;
  const skipWhitespace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  for (;;) {
    skipWhitespace();
    if (i >= n) break;
    if (header[i] === ',') {
      // RFC 9110 §5.6.1: empty list elements are allowed and ignored.
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && IS_NAME[header.charCodeAt(i)] === 1) i++;
    if (i === nameStart) throw bad(`unexpected character at offset ${i}`);
    const name = header.slice(nameStart, i).toLowerCase();
    skipWhitespace();
    if (header[i] !== '=') throw bad(`expected "=" after parameter ${name}`);
    i++;
    skipWhitespace();
    let value = '';
    if (header[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const code = header.charCodeAt(i);
        if (code === 0x22) {
          closed = true;
          i++;
          break;
        }
        if (code === 0x5c) {
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (i + 1 >= n || !isQuotedCode(header.charCodeAt(i + 1))) {
            throw bad('bad escape in quoted value');
          }
          value += header.charAt(i + 1);
          i += 2;
          continue;
        }
        if (!isQuotedCode(code)) throw bad(`control character in quoted value of ${name}`);
        // Copy the run of plain characters in one slice.
        let end = i + 1;
        while (end < n) {
          const next = header.charCodeAt(end);
          if (next === 0x22 || next === 0x5c || !isQuotedCode(next)) break;
          end++;
        }
        value += header.slice(i, end);
        i = end;
      }
      if (!closed) throw bad(`unterminated quoted value of ${name}`);
    } else {
      const valueStart = i;
      while (i < n && IS_VALUE[header.charCodeAt(i)] === 1) i++;
      if (i === valueStart) throw bad(`empty value of ${name}`);
      value = header.slice(valueStart, i);
    }
    if (params.has(name)) throw bad(`parameter ${name} is repeated`);
    params.set(name, value);
    skipWhitespace();
    if (i < n && header[i] !== ',') throw bad(`expected "," after parameter ${name}`);
  }
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin) throw bad('missing origin');
  if (!key) throw bad('missing key');
  if (!sig) throw bad('missing sig');
  const destination = params.get('destination');
  return destination === undefined ? { origin, key, sig } : { origin, destination, key, sig };
}

// qdtext / quoted-pair payload: HTAB, SP, VCHAR, obs-text (0x80–0xFF); no other controls.
function isQuotedCode(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff);
}

/**
 * Formats an X-Matrix header value the way the spec asks senders to, for compatibility with older
 * servers: one space after `X-Matrix`, lower-case names, no whitespace around the commas, every
 * value quoted, and `destination` always included. Backslashes and quotes (which no valid server
 * name, key ID or Base64 signature contains) are escaped; control characters throw.
 */
export function formatXMatrixHeader(
  params: XMatrixParams & { readonly destination: string },
): string {
  const parts = [
    `origin=${quote(params.origin, 'origin')}`,
    `destination=${quote(params.destination, 'destination')}`,
    `key=${quote(params.key, 'key')}`,
    `sig=${quote(params.sig, 'sig')}`,
  ];
  return `X-Matrix ${parts.join(',')}`;
}

function quote(value: string, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`X-Matrix ${name} must be a non-empty string`);
  }
  for (const ch of value) {
    if (ch.length !== 1 || !isQuotedCode(ch.charCodeAt(0)) || ch === '\t') {
      throw new TransportError('bad-header', `X-Matrix ${name} holds a character a header cannot`);
    }
  }
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
