import { CanonicalJsonError, parseJson } from '@weft/canonical-json';

/**
 * Parses JSON text the server wrote itself or took from a query string: stored rows, queued
 * payloads, PDUs kept as text.
 *
 * Not plain `JSON.parse`: V8 (Node 24.21, still in 26.10) can decode an object key that holds
 * an escape as another key it met before (a fuzz of 200,000 small objects with escaped keys
 * misread 7% of them; values were never affected). A stored PDU read back with a wrong key no
 * longer matches its hashes and signatures, and its content says something else.
 *
 * A text without a backslash holds no escape, so `JSON.parse` reads it right, and fast. Any
 * other goes through `parseJson`, whose own fast path declines texts with an escaped key. The
 * few texts `parseJson` refuses although they are JSON (a float or a large integer, as room
 * versions 1–5 allow; a lone surrogate) fall back to `JSON.parse`, as before: refusing them would
 * make stored data unreadable.
 */
export function parseJsonText(text: string): unknown {
  if (!text.includes('\\')) return JSON.parse(text);
  try {
    return parseJson(text, { maxBytes: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (CanonicalJsonError.isInstance(error)) return JSON.parse(text);
    throw error;
  }
}
