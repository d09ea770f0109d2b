/**
 * Canonical JSON encoder.
 *
 * Spec: appendices.md, "Signing JSON" > "Canonical JSON"
 * (https://spec.matrix.org/v1.19/appendices/#canonical-json): the shortest UTF-8 JSON encoding
 * with object keys sorted by code point, integers only in [-(2**53)+1, (2**53)-1] without
 * exponent, fraction or `-0`, and only the escapes the grammar there allows.
 */
import { compareCodePoints } from './code-point-order.ts';
import { Failure } from './failure.ts';

/** Options for {@link encodeCanonicalJson}. */
export interface EncodeOptions {
  /**
   * Deepest nesting of arrays and objects accepted (the root container is depth 1); deeper
   * values throw `too-deep` instead of exhausting the call stack. Default 512.
   */
  readonly maxDepth?: number;
}

/** Default nesting limit shared by the encoder and the parser. */
export const DEFAULT_MAX_DEPTH = 512;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the grammar escapes exactly U+0000–U+001F.
const STRING_NEEDS_CARE = /[\u0000-\u001f"\\\ud800-\udfff]/;
// A key needing care: escapes, surrogates, or U+E000–U+FFFF (which sort differently by code point).
// biome-ignore lint/suspicious/noControlCharactersInRegex: the grammar escapes exactly U+0000–U+001F.
const KEY_NEEDS_CARE = /[\u0000-\u001f"\\\ud800-\uffff]/;
/**
 * Whether a string has no unpaired surrogate. Every string with an emoji or other astral
 * character gets here, and the engine's `String.prototype.isWellFormed` (ES2024; Node 20,
 * every current browser) scans much faster than a regular expression with the `u` flag.
 */
function isWellFormed(value: string): boolean {
  return (value as unknown as { isWellFormed(): boolean }).isWellFormed();
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

interface Context {
  readonly maxDepth: number;
  /** Containers currently open. No ancestor list is kept: a cycle shows up as runaway depth. */
  depth: number;
}

/**
 * Encodes `value` as Matrix canonical JSON text.
 *
 * Accepts `null`, booleans, strings (well-formed UTF-16), safe integers (`-0` encodes as `0`;
 * an integral number such as `1e10` is an integer), bigints in the safe range, arrays and plain
 * objects (prototype `Object.prototype` or `null`). Anything else throws a
 * {@link CanonicalJsonError} naming the JSON path of the offending value.
 */
export function encodeCanonicalJson(value: unknown, options?: EncodeOptions): string {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new RangeError('maxDepth must be a non-negative safe integer');
  }
  try {
    return encodeValue(value, { maxDepth, depth: 0 });
  } catch (error) {
    if (error instanceof Failure) {
      if (error.code === 'too-deep') findCycle(value, error);
      throw error.toError();
    }
    throw error;
  }
}

const utf8 = new TextEncoder();

/**
 * Encodes `value` as Matrix canonical JSON and returns its UTF-8 bytes, the form that is
 * signed and hashed. Same rules and errors as {@link encodeCanonicalJson}.
 */
export function encodeCanonicalJsonBytes(value: unknown, options?: EncodeOptions): Uint8Array {
  // Strings with lone surrogates were rejected, so UTF-8 encoding is exact (no U+FFFD).
  return utf8.encode(encodeCanonicalJson(value, options));
}

function encodeValue(value: unknown, context: Context): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return encodeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? encodeArray(value, context) : encodeObject(value, context);
    case 'bigint':
      if (value < MIN_SAFE || value > MAX_SAFE) {
        throw new Failure('integer-out-of-range', 'bigint outside [-(2**53)+1, (2**53)-1]');
      }
      return value.toString();
    default:
      throw new Failure('unsupported-type', `${typeof value} has no JSON form`);
  }
}

function encodeNumber(value: number): string {
  // String() never uses an exponent below 1e21, and String(-0) is "0" (spec example: -0 → 0).
  if (Number.isSafeInteger(value)) return String(value);
  if (!Number.isFinite(value)) throw new Failure('non-finite', 'NaN and Infinity are not JSON');
  if (Number.isInteger(value)) {
    throw new Failure('integer-out-of-range', 'integer outside [-(2**53)+1, (2**53)-1]');
  }
  throw new Failure('float', 'non-integral numbers are not canonical JSON');
}

/**
 * Spec grammar: `unescaped = %x20-21 / %x23-5B / %x5D-10FFFF`; `"` and `\` take `\"` `\\`,
 * U+0008/0009/000A/000C/000D take `\b \t \n \f \r`, other U+0000–U+001F take `\u00xx` with
 * lower-case hex. Everything else (U+007F, U+2028, U+2029, all non-ASCII) is raw. This is exactly
 * what `JSON.stringify` does for a well-formed string, so after ruling out lone surrogates the
 * rare string that needs escaping goes through it.
 */
function encodeString(value: string): string {
  if (!STRING_NEEDS_CARE.test(value)) return `"${value}"`;
  if (!isWellFormed(value)) {
    throw new Failure('lone-surrogate', 'string has an unpaired UTF-16 surrogate');
  }
  return JSON.stringify(value);
}

function enter(context: Context): void {
  if (context.depth >= context.maxDepth) {
    throw new Failure('too-deep', `nesting deeper than ${context.maxDepth}`);
  }
  context.depth++;
}

/**
 * Turns a `too-deep` failure caused by a cycle into a `cycle` failure at the first container
 * that is its own ancestor. Checking only after the depth limit trips keeps cycle detection
 * off the success path.
 */
function findCycle(root: unknown, failure: Failure): void {
  const path = failure.segments.slice().reverse();
  const ancestors: unknown[] = [root];
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    node = (node as Record<string | number, unknown>)[path[i] as string | number];
    if (ancestors.includes(node)) {
      failure.code = 'cycle';
      failure.detail = 'value contains itself';
      failure.segments.splice(0, failure.segments.length, ...path.slice(0, i + 1).reverse());
      return;
    }
    ancestors.push(node);
  }
}

/** Elements in order, comma-separated, no whitespace. */
function encodeArray(value: readonly unknown[], context: Context): string {
  enter(context);
  let index = 0;
  try {
    let out = '[';
    for (; index < value.length; index++) {
      out +=
        index === 0 ? encodeValue(value[index], context) : `,${encodeValue(value[index], context)}`;
    }
    context.depth--;
    return `${out}]`;
  } catch (error) {
    if (error instanceof Failure) error.segments.push(index);
    throw error;
  }
}

/**
 * How to write an object with a given key list: its keys in canonical order, each with the text
 * that precedes its value (`{"a":` for the first, `,"b":` for the others).
 */
interface Layout {
  /** The key list as `Object.keys` gave it, to recognise the shape again. */
  readonly unsorted: readonly string[];
  readonly sorted: readonly string[];
  readonly prefixes: readonly string[];
}

/**
 * Layouts of recently seen object shapes, by first key. Matrix objects come in few shapes (the
 * PDU envelope, `content` per event type, `hashes`, `signatures`), and comparing a key list with
 * a remembered one costs less than checking, sorting and quoting the keys again. Only small
 * objects with short, escape-free keys are remembered, and the cache is bounded, so hostile input
 * cannot make it grow. It holds keys only, never values.
 */
const LAYOUT_CACHE = new Map<string, Layout[]>();
const LAYOUT_CACHE_FIRST_KEYS = 256;
const LAYOUT_CACHE_PER_FIRST_KEY = 4;
const LAYOUT_CACHE_MAX_KEYS = 16;
const LAYOUT_CACHE_MAX_KEY_LENGTH = 64;

/** The remembered layout for exactly this key list (same keys, same order), if any. */
function cachedLayout(keys: readonly string[]): Layout | undefined {
  const n = keys.length;
  if (n > LAYOUT_CACHE_MAX_KEYS) return undefined;
  const bucket = LAYOUT_CACHE.get(keys[0] as string);
  if (bucket === undefined) return undefined;
  search: for (const layout of bucket) {
    const unsorted = layout.unsorted;
    if (unsorted.length !== n) continue;
    for (let i = 1; i < n; i++) if (unsorted[i] !== keys[i]) continue search;
    return layout;
  }
  return undefined;
}

/**
 * Checks, sorts and quotes `keys` (an `Object.keys` result of at least two keys), remembering
 * the result for small objects with plain keys.
 */
function layoutFor(keys: string[]): Layout {
  let special = false;
  for (let i = 0; i < keys.length; i++) {
    if (KEY_NEEDS_CARE.test(keys[i] as string)) {
      special = true;
      break;
    }
  }
  if (special) {
    for (const key of keys) {
      if (!isWellFormed(key)) {
        const failure = new Failure('lone-surrogate', 'key has an unpaired UTF-16 surrogate');
        failure.segments.push(key);
        throw failure;
      }
    }
    keys.sort(compareCodePoints);
    const prefixes = keys.map((key, i) => `${i === 0 ? '{' : ','}${encodeString(key)}:`);
    return { unsorted: keys, sorted: keys, prefixes };
  }
  const cacheable =
    keys.length <= LAYOUT_CACHE_MAX_KEYS &&
    keys.every((key) => key.length <= LAYOUT_CACHE_MAX_KEY_LENGTH);
  const unsorted = cacheable ? keys.slice() : keys;
  // No key has a unit ≥ U+D800, so UTF-16 order is code point order here.
  sortPlainKeys(keys);
  const prefixes = keys.map((key, i) => `${i === 0 ? '{"' : ',"'}${key}":`);
  const layout = { unsorted, sorted: keys, prefixes };
  if (!cacheable) return layout;
  const first = unsorted[0] as string;
  const bucket = LAYOUT_CACHE.get(first);
  if (bucket === undefined) {
    if (LAYOUT_CACHE.size >= LAYOUT_CACHE_FIRST_KEYS) LAYOUT_CACHE.clear();
    LAYOUT_CACHE.set(first, [layout]);
  } else {
    if (bucket.length >= LAYOUT_CACHE_PER_FIRST_KEY) bucket.shift();
    bucket.push(layout);
  }
  return layout;
}

/**
 * Sorts keys that hold no unit ≥ U+D800 (so UTF-16 order is code point order). Objects are
 * small, and an insertion sort with `<` beats the generic `Array.prototype.sort` there.
 */
function sortPlainKeys(keys: string[]): void {
  const n = keys.length;
  if (n > 12) {
    keys.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
}

/** Spec: "dictionary keys lexicographically sorted by Unicode codepoint", no whitespace. */
function encodeObject(value: object, context: Context): string {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new Failure('non-plain-object', 'only plain objects and arrays are JSON containers');
  }
  enter(context);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let at: string | undefined;
  try {
    let out: string;
    if (keys.length === 1) {
      // One key (the many `hashes`, `signatures` and `unsigned` objects): nothing to sort, and
      // often a key seen once (a key ID), so not worth remembering.
      at = keys[0] as string;
      out = `${encodeKey(at, '{')}${encodeValue(record[at], context)}`;
    } else if (keys.length === 0) {
      out = '{';
    } else {
      const { sorted, prefixes } = cachedLayout(keys) ?? layoutFor(keys);
      out = '';
      for (let i = 0; i < sorted.length; i++) {
        at = sorted[i] as string;
        out += (prefixes[i] as string) + encodeValue(record[at], context);
      }
    }
    context.depth--;
    return `${out}}`;
  } catch (error) {
    if (error instanceof Failure && at !== undefined) error.segments.push(at);
    throw error;
  }
}

/** `lead` then the quoted key and a colon; a key with an unpaired surrogate fails. */
function encodeKey(key: string, lead: string): string {
  if (!KEY_NEEDS_CARE.test(key)) return `${lead}"${key}":`;
  if (!isWellFormed(key)) {
    throw new Failure('lone-surrogate', 'key has an unpaired UTF-16 surrogate');
  }
  return `${lead}${JSON.stringify(key)}:`;
}
