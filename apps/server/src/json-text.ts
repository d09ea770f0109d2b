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
 * other goes through `parseJson`, whose own fast path declines texts with an escaped key; one
 * with floats (account data) through its `legacyNumbers` mode. The few texts it refuses although
 * they are JSON (an integer beyond 2^53, as room versions 1–5 allow; a lone surrogate; a
 * repeated key) fall back to `JSON.parse`, as before: refusing them would make stored data
 * unreadable.
 */
export function parseJsonText(text: string): unknown {
  if (!text.includes('\\')) return JSON.parse(text);
  try {
    return parseJson(text, { maxBytes: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (!CanonicalJsonError.isInstance(error)) throw error;
    // Floats (account data may hold them): read them as numbers, escaped keys still right.
    if (error.code === 'float') return parseWithFloats(text);
    return JSON.parse(text);
  }
}

/** `text` with its floats kept; JSON.parse's reading if it also holds an integer beyond 2^53. */
function parseWithFloats(text: string): unknown {
  try {
    const value = parseJson(text, { maxBytes: Number.MAX_SAFE_INTEGER, legacyNumbers: true });
    return holdsBigInt(value) ? JSON.parse(text) : value;
  } catch {
    return JSON.parse(text);
  }
}

function holdsBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(holdsBigInt);
}
