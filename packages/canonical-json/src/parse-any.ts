/**
 * `parseAnyJson`: any JSON text, read as `JSON.parse` reads it, but with every key right.
 *
 * V8's `JSON.parse` (Node 24.21, still in 26.10) can decode an object key that holds an escape
 * as another key it met before: after `{"":0,"\\":1}`, the key of `{"":0,"\"":1}` comes back as
 * `\`. A fuzz of 200,000 small objects with escaped keys misread 7% of them (values never). A
 * text without a backslash holds no escape, so `JSON.parse` reads it, and fast; any other goes
 * through the strict parser (floats kept, as `legacyNumbers` keeps them), whose own fast path
 * declines texts with an escaped key. What the strict parser refuses although it is JSON (an
 * integer beyond 2^53, which would come back as a `bigint`; a lone surrogate; a repeated key)
 * goes to `JSON.parse` after all, so the value is always the one `JSON.parse` means to return.
 */
import { CanonicalJsonError } from './errors.ts';
import { parseJson } from './parse.ts';

/** Captured at load, so later changes to the global cannot reach the parser. */
const nativeParse = JSON.parse;

/** The strict parser with floats and big integers kept, and no size limit of its own. */
const LENIENT = { maxBytes: Number.MAX_SAFE_INTEGER, legacyNumbers: true } as const;

/**
 * Parses any JSON text (RFC 8259) to the value `JSON.parse` returns for it: floats and integers
 * beyond 2^53 as (possibly rounded) numbers, a repeated key's last value, lone surrogates kept.
 * Unlike `JSON.parse` in V8, keys holding escapes are decoded right (see the module comment).
 * For data that is not canonical JSON: responses and stored records that clients wrote
 * (account data may hold floats). Signed or hashed JSON wants {@link parseJson}.
 *
 * Bytes are decoded as UTF-8 with U+FFFD for ill-formed sequences, as `Response.json()` does.
 * Text that is not JSON throws a `CanonicalJsonError` with code `syntax`.
 */
export function parseAnyJson(input: string | Uint8Array): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new TypeError('parseAnyJson expects a string or a Uint8Array');
  }
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  if (!text.includes('\\')) return nativeOrSyntaxError(text);
  let value: unknown;
  try {
    value = parseJson(text, LENIENT);
  } catch (error) {
    if (!CanonicalJsonError.isInstance(error)) throw error;
    return nativeOrSyntaxError(text);
  }
  return holdsBigInt(value) ? nativeOrSyntaxError(text) : value;
}

function nativeOrSyntaxError(text: string): unknown {
  try {
    return nativeParse(text);
  } catch {
    // The strict parser names the problem and its offset; V8's message would quote the text.
    try {
      parseJson(text, LENIENT);
    } catch (error) {
      if (CanonicalJsonError.isInstance(error)) throw error;
    }
    throw new CanonicalJsonError('syntax', 'not JSON text', { path: '$' });
  }
}

function holdsBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  for (const inner of Object.values(value)) if (holdsBigInt(inner)) return true;
  return false;
}
