/**
 * Fetching another server's media (server-server-api "Content repository",
 * https://spec.matrix.org/v1.19/server-server-api/#content-repository): a signed
 * `GET /_matrix/federation/v1/media/download/{mediaId}` whose `multipart/mixed` answer holds a JSON
 * metadata part and either the bytes (with `Content-Type` and `Content-Disposition`) or a
 * `Location` to fetch them from (followed to `https:` URLs only, once, with the same size limit).
 * A server without that endpoint (404, 400 or 405 `M_UNRECOGNIZED`) is asked the deprecated
 * `GET /_matrix/media/v3/download/{serverName}/{mediaId}` instead, with `allow_remote=false`, as
 * the spec says since v1.11 (server-server-api "Content repository").
 *
 * The boundary is read from the body's first delimiter line (RFC 2046 5.1.1: `--boundary CRLF`),
 * which names it as well as the `Content-Type` header does.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';

import { MatrixError, matrixPath, readLimitedChunks, TransportError } from '@weft/transport';

import { AddressPolicy } from '../core/address-policy.ts';
import type { FederationClient } from '../federation/client.ts';
import type { Media } from './service.ts';

export interface RemoteFetchOptions {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  /** The federation `ca_file` (a path), also trusted for `Location` URLs. */
  readonly ca: string | undefined;
}

/** Room for the multipart envelope (boundaries, part headers, metadata) over the file's limit. */
const ENVELOPE_BYTES = 64 * 1024;
/** Time for the transfer itself on top of the `timeout_ms` the remote may wait for an upload. */
const TRANSFER_MS = 30_000;

function tooLarge(): MatrixError {
  return new MatrixError(502, 'M_TOO_LARGE', 'Remote content is too large to serve');
}

function unavailable(): MatrixError {
  return new MatrixError(502, 'M_UNKNOWN', 'The remote server could not serve the media');
}

/** One part of a multipart body: its headers (lower-case names) and bytes. */
export interface MultipartPart {
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** The parts of a `multipart/mixed` body (RFC 2046 5.1); `undefined` if malformed. */
export function parseMultipart(raw: Buffer): MultipartPart[] | undefined {
  let start: number;
  if (raw.subarray(0, 2).toString('latin1') === '--') start = 0;
  else {
    const found = raw.indexOf('\r\n--', 0, 'latin1');
    if (found < 0) return undefined;
    start = found + 2;
  }
  const lineEnd = raw.indexOf('\r\n', start, 'latin1');
  if (lineEnd < 0) return undefined;
  const boundary = raw
    .subarray(start + 2, lineEnd)
    .toString('latin1')
    .replace(/[ \t]+$/, '');
  if (boundary === '' || boundary.length > 70) return undefined;
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const parts: MultipartPart[] = [];
  let position = lineEnd + 2;
  for (;;) {
    const end = raw.indexOf(delimiter, position);
    if (end < 0) return undefined;
    const part = raw.subarray(position, end);
    const headerEnd = part.indexOf('\r\n\r\n', 0, 'latin1');
    // A part without headers starts with the blank line itself.
    const headerText =
      part.subarray(0, 2).toString('latin1') === '\r\n'
        ? ''
        : headerEnd < 0
          ? undefined
          : part.subarray(0, headerEnd).toString('latin1');
    if (headerText === undefined) return undefined;
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const bodyStart = headerText === '' ? 2 : headerEnd + 4;
    parts.push({ headers, body: part.subarray(bodyStart) });
    const after = end + delimiter.byteLength;
    if (raw.subarray(after, after + 2).toString('latin1') === '--') return parts;
    const next = raw.indexOf('\r\n', after, 'latin1');
    if (next < 0) return undefined;
    position = next + 2;
  }
}

/** The file name of a `Content-Disposition` (`filename*=utf-8''…` preferred), if any. */
export function filenameOf(disposition: string | null | undefined): string | undefined {
  if (disposition === null || disposition === undefined) return undefined;
  const extended = /filename\*\s*=\s*utf-8''([^;\s]+)/i.exec(disposition);
  if (extended?.[1] !== undefined) {
    try {
      return decodeURIComponent(extended[1]);
    } catch {
      // Malformed: fall back to the plain parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(disposition);
  if (quoted?.[1] !== undefined) return quoted[1].replace(/\\(.)/g, '$1');
  const token = /filename\s*=\s*([^;\s]+)/i.exec(disposition);
  return token?.[1];
}

/** A content type worth keeping (printable, bounded); else `application/octet-stream`. */
function contentTypeOf(value: string | null | undefined): string {
  return value !== null && value !== undefined && /^[\x20-\x7e]{1,255}$/.test(value)
    ? value
    : 'application/octet-stream';
}

/**
 * Reads `chunks` whole, at most `limit` bytes (@weft/transport's capped reader); past the limit
 * `over()` is called, then 502 `M_TOO_LARGE` is thrown. The bytes as a `Buffer` (a view, no copy).
 */
async function readLimited(
  chunks: AsyncIterable<Uint8Array>,
  limit: number,
  over: () => void,
): Promise<Buffer> {
  const bytes = await readLimitedChunks(chunks, limit, () => {
    over();
    return tooLarge();
  });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Where a `Location` URL may lead: the outbound address policy (services/core/address-policy.ts)
 * with its default deny list and no exceptions (a remote server must not make this one probe its
 * own network). An IP literal is checked as written, a name through the policy's socket `lookup`
 * (resolved once; refused if any of its addresses is denied).
 */
export const LOCATION_POLICY = new AddressPolicy(
  { allowPrivateAddresses: false, ipRangeWhitelist: [] },
  'the address of the Location URL',
);

/**
 * Follows a `Location` part: `https:` only, to public addresses only, no further redirects, at
 * most `maxBytes`, through {@link LOCATION_POLICY}'s request (its check, `lookup` and deadline).
 */
async function fetchLocation(location: string, options: RemoteFetchOptions): Promise<Media> {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw unavailable();
  }
  if (url.protocol !== 'https:') throw unavailable();
  const ca = options.ca === undefined ? undefined : readFileSync(options.ca, 'utf8');
  let response: IncomingMessage | undefined;
  try {
    // Certificates are always verified here, whatever the federation's `insecure_skip_tls_verify`:
    // the URL is another server's choice, not a federation peer's own address.
    response = await LOCATION_POLICY.request(url, {
      ca,
      deadline: Date.now() + options.timeoutMs + TRANSFER_MS,
    });
    const status = response.statusCode ?? 0;
    if (status === 404) throw MatrixError.notFound('Media not found');
    // A 2xx with a body: 204 has none.
    if (status < 200 || status >= 300 || status === 204) throw unavailable();
    const declared = Number(response.headers['content-length'] ?? '0');
    if (declared > options.maxBytes) throw tooLarge();
    const headers = response.headers;
    return plainMedia(await readLimited(response, options.maxBytes, () => undefined), {
      get: (name) => headerText(headers[name]),
    });
  } catch (error) {
    if (MatrixError.isInstance(error)) throw error;
    throw unavailable();
  } finally {
    // Read to its end already, or not to be read.
    response?.destroy();
  }
}

/** A Node header value as one string (repeated values joined, as `Headers.get` does). */
function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The client API's error for a failed fetch from the remote server (`over`: past the cap). */
function fetchError(error: unknown, over: boolean): MatrixError {
  if (over) return tooLarge();
  if (MatrixError.isInstance(error)) {
    if (error.errcode === 'M_NOT_YET_UPLOADED') return error;
    if (error.errcode === 'M_TOO_LARGE') return tooLarge();
    if (error.status === 404) return MatrixError.notFound('Media not found');
    return unavailable();
  }
  if (TransportError.isInstance(error) && /too large/.test(error.message)) return tooLarge();
  return unavailable();
}

/**
 * Whether an error answer says the server does not know the federation media endpoint: 404 (or
 * 400, 405, as some servers answer an unknown path or method) with `M_UNRECOGNIZED`.
 */
function unrecognized(error: unknown): boolean {
  return (
    MatrixError.isInstance(error) &&
    error.errcode === 'M_UNRECOGNIZED' &&
    (error.status === 404 || error.status === 400 || error.status === 405)
  );
}

/** What a download asks of the remote server and how its answer is read. */
interface MediaRequest {
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The cap on the answer's body (a multipart answer has room for its envelope). */
  readonly maxBytes: number;
  /** The media in a 2xx answer's body; what it throws is not mapped by {@link fetchError}. */
  readonly toMedia: (body: Buffer, headers: Headers) => Media | Promise<Media>;
  /** Asked instead if the server does not know `path` ({@link unrecognized}), unless over the cap. */
  readonly fallback?: () => Promise<Media>;
}

/**
 * One download from `serverName`: a single signed attempt over the federation client (its
 * discovery, TLS verification and outbound address checks), with `timeoutMs` plus
 * {@link TRANSFER_MS} for the transfer, the body read up to `request.maxBytes`; a failure is
 * the client API's error ({@link fetchError}).
 */
async function requestMedia(
  client: FederationClient,
  serverName: string,
  request: MediaRequest,
  options: RemoteFetchOptions,
): Promise<Media> {
  let answer: { readonly body: Buffer; readonly headers: Headers } | undefined;
  let over = false;
  try {
    await client.request(serverName, 'GET', request.path, undefined, {
      query: request.query,
      retry: false,
      timeoutMs: options.timeoutMs + TRANSFER_MS,
      readBody: async (chunks, headers) => {
        const body = await readLimited(chunks, request.maxBytes, () => {
          over = true;
        });
        answer = { body, headers };
        return {};
      },
    });
  } catch (error) {
    if (request.fallback !== undefined && !over && unrecognized(error)) return request.fallback();
    throw fetchError(error, over);
  }
  if (answer === undefined) throw unavailable();
  return request.toMedia(answer.body, answer.headers);
}

/**
 * The federation answer's file: the second part of its `multipart/mixed` body, either the bytes
 * (named by the part's `Content-Type` and `Content-Disposition`) or a `Location` to follow.
 */
function multipartMedia(raw: Buffer, options: RemoteFetchOptions): Promise<Media> | Media {
  const file = parseMultipart(raw)?.[1];
  if (file === undefined) throw unavailable();
  const location = file.headers.get('location');
  if (location !== undefined) return fetchLocation(location, options);
  if (file.body.byteLength > options.maxBytes) throw tooLarge();
  return plainMedia(file.body, file.headers);
}

/**
 * A file whose bytes are a whole body (an answer's, a `Location`'s or a multipart part's), named
 * by its `Content-Type` and `Content-Disposition`.
 */
function plainMedia(
  bytes: Buffer,
  headers: { get(name: string): string | null | undefined },
): Media {
  return {
    bytes,
    contentType: contentTypeOf(headers.get('content-type')),
    filename: filenameOf(headers.get('content-disposition')),
  };
}

/**
 * Downloads `mxc://serverName/mediaId` from `serverName` (falling back to the deprecated media
 * endpoint of a server without the federation one); rejects with the client API's error:
 * 404 `M_NOT_FOUND` (unknown there), 504 `M_NOT_YET_UPLOADED` (created there, not uploaded in
 * time), 502 `M_TOO_LARGE` (over `maxBytes`), 502 `M_UNKNOWN` (unreachable or malformed).
 *
 * The fallback is the deprecated `GET /_matrix/media/v3/download/{serverName}/{mediaId}`, with
 * `allow_remote=false` (spec: it must not fetch from a third server), asked the same way (signed,
 * which such a server ignores; same timeout) with the file's own size cap, its whole body the file.
 */
export async function fetchRemoteMedia(
  client: FederationClient,
  serverName: string,
  mediaId: string,
  options: RemoteFetchOptions,
): Promise<Media> {
  const timeoutMs = String(options.timeoutMs);
  return requestMedia(
    client,
    serverName,
    {
      path: matrixPath`/_matrix/federation/v1/media/download/${mediaId}`,
      query: { timeout_ms: timeoutMs },
      maxBytes: options.maxBytes + ENVELOPE_BYTES,
      toMedia: (raw) => multipartMedia(raw, options),
      fallback: () =>
        requestMedia(
          client,
          serverName,
          {
            path: matrixPath`/_matrix/media/v3/download/${serverName}/${mediaId}`,
            query: { allow_remote: 'false', timeout_ms: timeoutMs },
            maxBytes: options.maxBytes,
            toMedia: plainMedia,
          },
          options,
        ),
    },
    options,
  );
}
