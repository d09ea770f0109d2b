/**
 * `parseAnyJson`: any JSON text, read as `JSON.parse` reads it, but with every key right.
 *
 * V8's `JSON.parse` (Node 24.21, still in 26.10) can decode an object key that holds an escape
 * as another key it met before: after `{"":0,"\\":1}`, the key of `{"":0,"\"":1}` comes back as
 * `\`. A fuzz of 200,000 small objects with escaped keys misread 7% of them; values were never
 * wrong. So a text with no escape in any key (most texts: one linear scan, and only when the
 * text holds a backslash — `hasEscapedKey`) goes to `JSON.parse`, and any other to the strict parser in its
 * `any-json` mode, which reads what `JSON.parse` reads — a repeated key's last value, unpaired
 * surrogates, every number as `Number(literal)` — with the same RFC 8259 syntax.
 */
import { parseStrict, publicError } from './parse.ts';
import { hasEscapedKey } from './parse-fast.ts';

/** Captured at load, so later changes to the global cannot reach the parser. */
const nativeParse = JSON.parse;

/**
 * Parses any JSON text (RFC 8259) to the value `JSON.parse` returns for it: floats and integers
 * beyond 2^53 as (possibly rounded) numbers, `-0`, a repeated key's last value, lone surrogates
 * kept. Unlike `JSON.parse` in V8, keys holding escapes are decoded right (see the module
 * comment). For data that is not canonical JSON: client-server answers and stored records that
 * clients wrote (account data may hold floats). Signed or hashed JSON wants {@link parseJson}.
 *
 * Bytes are decoded as UTF-8 with U+FFFD for ill-formed sequences, as `Response.json()` does.
 * Text that is not JSON throws a `CanonicalJsonError` (`syntax`, with its offset; never quoting
 * the text).
 */
export function parseAnyJson(input: string | Uint8Array): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new TypeError('parseAnyJson expects a string or a Uint8Array');
  }
  const isBytes = typeof input !== 'string';
  const text = isBytes ? new TextDecoder().decode(input) : input;
  if (!hasEscapedKey(text)) {
    try {
      return nativeParse(text);
    } catch {
      // Not JSON: the lenient parser below names the problem and its offset (V8's message
      // would quote the text).
    }
  }
  try {
    return parseStrict(text, isBytes, Number.MAX_SAFE_INTEGER, 'any-json');
  } catch (error) {
    throw publicError(error);
  }
}
