/**
 * Request bodies: read with a size cap, then parsed strictly as JSON.
 *
 * The client-server API ("API Standards") and the server-server API ("API standards") say POST
 * and PUT bodies are JSON objects, UTF-8, and that `Content-Type: application/json` is not
 * required, so the header is not checked. The parser is @weft/canonical-json's strict one: the
 * same bytes mean the same value here as at any peer that verifies a signature over them.
 */
import { CanonicalJsonError, parseJson } from '@weft/canonical-json';

import { MatrixError } from './matrix-error.ts';

/** Default body size limit: 4 MiB (a federation transaction of 50 PDUs × 64 KiB fits). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Reads `request`'s body, at most `maxBytes` bytes: a `Content-Length` above the limit is
 * refused before reading, and any other body is cut off as soon as it passes the limit.
 * Throws 413 `M_TOO_LARGE`.
 */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (
    declared !== null &&
    /^\d+$/.test(declared.trim()) &&
    Number(declared) <= maxBytes &&
    !isStandardRequest(request)
  ) {
    // A server adapter's request (@hono/node-server's, over Node's HTTP parser): HTTP/1.1 frames
    // a body with a Content-Length to exactly that many bytes (RFC 9112 §6.2), so reading it
    // whole is bounded; `arrayBuffer()` lets the adapter hand over what it read from the socket,
    // with no web stream or AbortController in between. The length is checked again all the same.
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw MatrixError.tooLarge();
    return bytes;
  }
  return readLimited(request, maxBytes, () => MatrixError.tooLarge());
}

/**
 * Whether `request` was built with `new Request(…)` (in process: tests, an embedding app, a
 * runtime whose server hands out standard requests). Its body is a stream that nothing framed,
 * so it may hold more than its `Content-Length` says: it is read chunk by chunk up to the limit.
 */
function isStandardRequest(request: Request): boolean {
  return Object.getPrototypeOf(request) === Request.prototype;
}

/**
 * Whether `headers` declare a `Content-Length` above `maxBytes`: such a body is refused before
 * a byte of it is read.
 */
export function declaresTooLarge(headers: Headers, maxBytes: number): boolean {
  const declared = headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes;
}

/**
 * The chunks of `body` as they arrive, throwing `tooLarge()` as soon as their total passes
 * `maxBytes` (the oversized chunk is not handed out), and `readFailure(cause)` when the stream
 * itself fails. However the consumer stops — done, thrown, or leaving the loop early — the
 * stream is cancelled, so an unread rest does not hold its socket open.
 */
export async function* limitedChunks(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  tooLarge: () => Error,
  readFailure: (cause: unknown) => unknown = (cause) => cause,
): AsyncGenerator<Uint8Array> {
  if (body === null) return;
  const reader = body.getReader();
  let total = 0;
  try {
    for (;;) {
      const next = await reader.read().catch((cause: unknown) => {
        throw readFailure(cause);
      });
      if (next.done) return;
      total += next.value.byteLength;
      if (total > maxBytes) throw tooLarge();
      yield next.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * Reads the body of a request or response, throwing `tooLarge()` as soon as it is known to pass
 * `maxBytes` (from `Content-Length`, or while streaming), so an oversized body is never buffered.
 */
export async function readLimited(
  message: Request | Response,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  if (declaresTooLarge(message.headers, maxBytes)) {
    await message.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  return readLimitedChunks(limitedChunks(message.body, maxBytes, tooLarge), maxBytes, tooLarge);
}

/**
 * Reads a stream of chunks whole (a `ReadableStream`, a `readBody` reader's chunks, any async
 * iterable), throwing `tooLarge()` as soon as their total passes `maxBytes`: the chunk that
 * crosses the limit is not kept, and leaving the loop ends the iteration (a stream is
 * cancelled). A single chunk is returned as it is, several are copied into one array.
 */
export async function readLimitedChunks(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    parts.push(chunk);
  }
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of parts) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// Parser failures that mean "this is not JSON text" (M_NOT_JSON); the others are valid JSON
// that Matrix rejects (floats, out-of-range integers, excessive nesting): M_BAD_JSON.
const NOT_JSON_CODES = new Set(['syntax', 'invalid-utf8', 'lone-surrogate', 'duplicate-key']);

/** Options of {@link parseJsonBody}. */
export interface JsonBodyOptions {
  /** Room versions 1–5 only: accept floats and big integers (see `parseJson`). Wins over `floats`. */
  readonly legacyNumbers?: boolean;
  /**
   * Accept floats, keep the integer range (`parseJson`'s `floats`): for bodies that are not
   * events but may hold floats (account data, room tags). An integer beyond ±(2^53−1) is still
   * `M_BAD_JSON`, with its JSON path like any other parse error.
   */
  readonly floats?: boolean;
}

/**
 * Parses a request body that must be a JSON object. Empty or non-JSON bytes → 400
 * `M_NOT_JSON`; JSON that is not an object, or holds values Matrix forbids (floats unless
 * `floats` or `legacyNumbers`, integers outside ±(2^53−1) unless `legacyNumbers`, nesting deeper
 * than 512) → 400 `M_BAD_JSON`. Messages name the problem
 * and its JSON path, never the content.
 */
export function parseJsonBody(
  bytes: Uint8Array,
  options: JsonBodyOptions = {},
): Record<string, unknown> {
  if (bytes.byteLength === 0) throw MatrixError.notJson('Request body is empty; expected JSON');
  let value: unknown;
  try {
    value = parseJson(
      bytes,
      options.legacyNumbers === true
        ? { maxBytes: bytes.byteLength, legacyNumbers: true }
        : options.floats === true
          ? { maxBytes: bytes.byteLength, floats: true }
          : { maxBytes: bytes.byteLength },
    );
  } catch (error) {
    if (CanonicalJsonError.isInstance(error)) {
      const message = `Invalid request body: ${error.code} at ${error.path}`;
      throw NOT_JSON_CODES.has(error.code)
        ? new MatrixError(400, 'M_NOT_JSON', message, { cause: error })
        : new MatrixError(400, 'M_BAD_JSON', message, { cause: error });
    }
    throw error;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw MatrixError.badJson('Request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
