/**
 * The two canonical JSON texts event verification needs, built from one encoding of each
 * top-level value:
 *
 * - the content-hash input: the event without `unsigned`, `signatures`, `hashes`
 *   (server-server API, "Calculating the content hash for an event") and without Synapse's
 *   extra keys ({@link CONTENT_HASH_OMITTED_KEYS});
 * - the signed text: the redacted event without `signatures`, `unsigned` (server-server API,
 *   "Validating hashes and signatures on received events" + appendices "Checking for a
 *   Signature", steps 5–6).
 *
 * Both are canonical JSON objects whose members share most values, so each value is encoded
 * once and the two objects are assembled from the pieces (keys in code point order, as canonical
 * JSON sorts them). The result is byte-identical to encoding the two objects separately, which
 * test/event-encoding.test.ts checks on random events; it saves the second encoding and the
 * intermediate copies on the hot path of `verifyEvent`.
 */
import { canonicalText } from './canonical.ts';
import { SigningError } from './errors.ts';
import { isJsonObject, type JsonObject, own } from './json-object.ts';
import { type RedactionRules, redactContent } from './redaction.ts';

/**
 * The top-level keys the content hash leaves out. The spec ("Calculating the content hash for an
 * event") names only `unsigned`, `signatures` and `hashes`; Synapse's `compute_content_hash`
 * (synapse/crypto/event_signing.py) also pops `age_ts`, `outlier` and `destinations`, leftovers
 * of its internal event dicts. We follow Synapse beyond the spec's text, for interop: a PDU that
 * carries one of these keys at top level would otherwise have a content hash Synapse computes
 * differently, so a Synapse-signed event would fail our hash check and be redacted here but not
 * there (and our own such event would be redacted by Synapse) — the room splits. No sender puts
 * them in a real PDU, so the only effect is agreeing with Synapse. Ruma (ruma-signatures
 * `content_hash`, CONTENT_HASH_FIELDS_TO_REMOVE) removes only the spec's three, so it disagrees
 * with Synapse (and now with us) on such PDUs. None of the three survives redaction in any room
 * version, so the signed text and the reference hash are unaffected.
 */
export const CONTENT_HASH_OMITTED_KEYS: readonly string[] = Object.freeze([
  'unsigned',
  'signatures',
  'hashes',
  'age_ts',
  'outlier',
  'destinations',
]);

/** Keys the content hash omits beyond `unsigned`, `signatures`, `hashes` (never redaction-kept). */
const SYNAPSE_ONLY_OMITTED: ReadonlySet<string> = new Set(['age_ts', 'outlier', 'destinations']);

/** The two texts. */
export interface EventTexts {
  readonly contentHashText: string;
  readonly signedText: string;
}

/**
 * Code point order for UTF-16 strings: compares the first differing code units after moving
 * surrogates (U+D800–U+DFFF) above the rest of the BMP, which is exactly code point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

// A string with none of these characters encodes as itself in quotes (canonical JSON escapes only
// `"`, `\\` and U+0000–U+001F; surrogates need the encoder's well-formedness check).
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters JSON escapes.
const NEEDS_ENCODER = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Canonical text of a top-level key or value. Plain strings and safe integers (most PDU fields:
 * IDs, timestamps, depth) take a shortcut whose output the encoder would produce too (checked by
 * test/event-encoding.test.ts); everything else goes through `@weft/canonical-json`.
 */
function encodeTopLevel(value: unknown): string {
  if (typeof value === 'string')
    return NEEDS_ENCODER.test(value) ? canonicalText(value) : `"${value}"`;
  // String() of a safe integer has no exponent or fraction, and String(-0) is "0".
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return canonicalText(value);
}

// A UTF-16 unit whose order differs from its code point's: surrogates and U+E000–U+FFFF.
const HIGH_UNIT = /[\ud800-\uffff]/;

const keptSets = new WeakMap<RedactionRules, ReadonlySet<string>>();

function keptSet(rules: RedactionRules): ReadonlySet<string> {
  let set = keptSets.get(rules);
  if (set === undefined) {
    set = new Set(rules.topLevelKeys);
    keptSets.set(rules, set);
  }
  return set;
}

/** Builds both texts; throws `SigningError` (`bad-json`, `bad-event`) like the separate steps. */
export function encodeEventTexts(event: JsonObject, rules: RedactionRules): EventTexts {
  return encodeTexts(event, rules, undefined).texts;
}

/**
 * The texts an outgoing event is signed and named by, from one encoding: `contentHashText` as
 * {@link encodeEventTexts} gives it for `event`, and `signedText` for the event whose `hashes`
 * is `hashesOf(contentHashText)` (server-server API "Adding hashes and signatures to outgoing
 * events": the content hash goes in before the redacted event is signed). Returns that `hashes`
 * value too. Signing encoded the event twice before: once for the content hash, once more with
 * the hash in it.
 */
export function encodeOutgoingEventTexts(
  event: JsonObject,
  rules: RedactionRules,
  hashesOf: (contentHashText: string) => JsonObject,
): { readonly texts: EventTexts; readonly hashes: JsonObject } {
  const { texts, hashes } = encodeTexts(event, rules, hashesOf);
  return { texts, hashes: hashes as JsonObject };
}

function encodeTexts(
  event: JsonObject,
  rules: RedactionRules,
  hashesOf: ((contentHashText: string) => JsonObject) | undefined,
): { texts: EventTexts; hashes: JsonObject | undefined } {
  const kept = keptSet(rules);
  const keys = Object.keys(event);
  // An outgoing event gets `hashes` whether or not it had one.
  if (hashesOf !== undefined && !Object.hasOwn(event, 'hashes')) keys.push('hashes');
  // The engine's own sort (UTF-16 order, no comparator calls) is code point order unless a key
  // holds a unit at or above U+D800; PDU keys are ASCII.
  keys.sort(keys.some((key) => HIGH_UNIT.test(key)) ? compareCodePoints : undefined);
  let full = '';
  let signed = '';
  // Where the new `hashes` goes in the signed text, once the content hash is known.
  let hashesAt = -1;
  for (const key of keys) {
    if (key === 'unsigned' || key === 'signatures' || SYNAPSE_ONLY_OMITTED.has(key)) continue;
    const keyed = `${encodeTopLevel(key)}:`;
    const value = event[key];
    if (key === 'hashes') {
      if (!kept.has(key)) continue;
      if (hashesOf === undefined) signed += `,${keyed}${encodeTopLevel(value)}`;
      else hashesAt = signed.length;
      continue;
    }
    const text = encodeTopLevel(value);
    full += `,${keyed}${text}`;
    if (!kept.has(key)) continue;
    if (key === 'content') {
      if (!isJsonObject(value)) {
        throw new SigningError('bad-event', 'event content must be an object', {
          path: '$.content',
        });
      }
      signed += `,${keyed}${canonicalText(redactContent(own(event, 'type'), value, rules))}`;
    } else {
      signed += `,${keyed}${text}`;
    }
  }
  // Each piece starts with a comma; the first one is replaced by the opening brace.
  const contentHashText = full === '' ? '{}' : `{${full.slice(1)}}`;
  const hashes = hashesOf?.(contentHashText);
  if (hashes !== undefined && hashesAt >= 0) {
    signed = `${signed.slice(0, hashesAt)},"hashes":${canonicalText(hashes)}${signed.slice(hashesAt)}`;
  }
  return {
    texts: { contentHashText, signedText: signed === '' ? '{}' : `{${signed.slice(1)}}` },
    hashes,
  };
}
