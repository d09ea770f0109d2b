/**
 * Reads a `send_join` answer's body as its bytes arrive (spec server-server-api
 * https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2send_joinroomideventid:
 * one JSON object with `state` and `auth_chain` arrays of PDUs), handing each PDU on as soon as
 * its last byte is in, so a big answer is checked while the rest of it is still on the wire.
 *
 * Strictness is @weft/canonical-json's `parseJson`'s: this reader only finds where each value
 * starts and ends (outside strings, by bracket depth — JSON's structural characters are ASCII,
 * so scanning UTF-8 bytes is exact), and every value it cuts out (a PDU, a key, any other
 * top-level value) goes through `parseJson`, with the nesting left to it at that depth. The top
 * level itself is checked here: one object, keys and values separated as JSON requires, no
 * duplicate key, nothing but whitespace after it. Anything else throws, like a `parseJson` of
 * the whole body would.
 */
import { DEFAULT_MAX_DEPTH, parseJson } from '@weft/canonical-json';

/** Which array of the answer a PDU came in. */
export type AnswerList = 'state' | 'auth_chain';

const PDU_LISTS: ReadonlySet<string> = new Set<AnswerList>(['state', 'auth_chain']);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Where the reader is in the top-level object. */
type Expect =
  | 'object' // before the opening `{`
  | 'first-key' // after `{`: a key or `}`
  | 'key' // after `,`: a key
  | 'colon'
  | 'value'
  | 'after-value' // `,` or `}`
  | 'first-element' // after a PDU array's `[`: a PDU or `]`
  | 'element' // after `,` in a PDU array
  | 'after-element' // `,` or `]`
  | 'end'; // after the closing `}`: whitespace only

/** Thrown for a body that is not the JSON object a `send_join` answer must be. */
export class MalformedAnswerError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`Malformed send_join answer: ${detail}`, options);
    this.name = 'MalformedAnswerError';
  }
}

/** Splits one answer body; feed it with {@link push}, then call {@link end}. */
export class SendJoinBodyReader {
  readonly #onPdu: (pdu: unknown, list: AnswerList) => void;
  #expect: Expect = 'object';
  /** The key whose value is being read. */
  #key = '';
  readonly #fields = new Map<string, unknown>();
  readonly #lists: Record<AnswerList, unknown[] | undefined> = {
    state: undefined,
    auth_chain: undefined,
  };
  // The value (or key) being cut out: its bytes so far, and the scanner's state inside it.
  #capturing: 'key' | 'value' | 'element' | undefined;
  #pieces: Uint8Array[] = [];
  #depth = 0;
  #inString = false;
  #escaped = false;

  /** `onPdu` gets each PDU of `state` and `auth_chain` as soon as it is complete. */
  constructor(onPdu: (pdu: unknown, list: AnswerList) => void) {
    this.#onPdu = onPdu;
  }

  /** Reads the next bytes of the body. */
  push(bytes: Uint8Array): void {
    let start = this.#capturing === undefined ? -1 : 0;
    let i = 0;
    while (i < bytes.length) {
      if (this.#capturing !== undefined) {
        const end = this.#scanTo(bytes, i);
        if (end < 0) break;
        this.#pieces.push(bytes.subarray(start, end));
        start = -1;
        this.#finishCapture();
        // The byte at `end` (if any) follows the value: read as structure.
        i = end;
        continue;
      }
      const byte = bytes[i] as number;
      if (!isWhitespace(byte)) start = this.#structural(byte, i, start);
      i++;
    }
    if (this.#capturing !== undefined && start >= 0) {
      // Copied: the caller may reuse its buffer for the next bytes.
      this.#pieces.push(bytes.slice(start));
    }
  }

  /**
   * Scans the value being cut out from `bytes[from]`: returns the index just past its end (its
   * closing quote or bracket, or the delimiter after a bare scalar), or -1 when it goes on past
   * these bytes. One loop on local variables: this runs over every byte of a 17 MB answer.
   */
  #scanTo(bytes: Uint8Array, from: number): number {
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    for (let k = from; k < bytes.length; k++) {
      const b = bytes[k] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) {
          inString = false;
          if (depth === 0) return k + 1;
        }
        continue;
      }
      if (b === QUOTE) {
        // A string after a bare scalar's characters (`12"x"`) is left to parseJson.
        inString = true;
      } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        depth++;
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
        if (depth === 0) return k;
        depth--;
        if (depth === 0) return k + 1;
      } else if (depth === 0 && (b === COMMA || b === COLON || isWhitespace(b))) {
        return k;
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    return -1;
  }

  /** The body is complete: returns the answer, its PDU arrays holding every PDU handed on. */
  end(): Record<string, unknown> {
    if (this.#expect !== 'end') throw new MalformedAnswerError('the body ends early');
    // fromEntries defines each key (a `__proto__` key stays a plain key, as parseJson keeps it).
    const entries: Array<[string, unknown]> = [...this.#fields];
    for (const list of PDU_LISTS as ReadonlySet<AnswerList>) {
      const pdus = this.#lists[list];
      if (pdus !== undefined) entries.push([list, pdus]);
    }
    return Object.fromEntries(entries);
  }

  /** A byte outside any value; returns where a value starting here begins (or `start`). */
  #structural(byte: number, at: number, start: number): number {
    switch (this.#expect) {
      case 'object':
        if (byte !== OPEN_OBJECT) throw new MalformedAnswerError('not a JSON object');
        this.#expect = 'first-key';
        return start;
      case 'first-key':
      case 'key':
        if (byte === CLOSE_OBJECT && this.#expect === 'first-key') {
          this.#expect = 'end';
          return start;
        }
        if (byte !== QUOTE) throw new MalformedAnswerError('a key must be a string');
        return this.#beginCapture('key', byte, at);
      case 'colon':
        if (byte !== COLON) throw new MalformedAnswerError('a key must be followed by ":"');
        this.#expect = 'value';
        return start;
      case 'value':
        if (byte === OPEN_ARRAY && PDU_LISTS.has(this.#key)) {
          this.#lists[this.#key as AnswerList] = [];
          this.#expect = 'first-element';
          return start;
        }
        return this.#beginCapture('value', byte, at);
      case 'after-value':
        if (byte === COMMA) this.#expect = 'key';
        else if (byte === CLOSE_OBJECT) this.#expect = 'end';
        else throw new MalformedAnswerError('expected "," or "}" after a value');
        return start;
      case 'first-element':
      case 'element':
        if (byte === CLOSE_ARRAY && this.#expect === 'first-element') {
          this.#expect = 'after-value';
          return start;
        }
        return this.#beginCapture('element', byte, at);
      case 'after-element':
        if (byte === COMMA) this.#expect = 'element';
        else if (byte === CLOSE_ARRAY) this.#expect = 'after-value';
        else throw new MalformedAnswerError('expected "," or "]" after a PDU');
        return start;
      case 'end':
        throw new MalformedAnswerError('text after the answer object');
    }
  }

  #beginCapture(kind: 'key' | 'value' | 'element', byte: number, at: number): number {
    // A value ending where it starts (`]`, `}`, `,` in place of a value) is missing.
    if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT || byte === COMMA) {
      throw new MalformedAnswerError('a value is missing');
    }
    this.#capturing = kind;
    this.#pieces = [];
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    // The first byte sets where the scan starts (in a string, in a container, in a scalar).
    const ends = this.#scan(byte);
    if (ends !== 'continue') throw new MalformedAnswerError('a value is missing');
    return at;
  }

  /**
   * The first byte of a value: 'continue' when the value goes on (it opens a string or a
   * container, or starts a bare scalar), otherwise (a `:`) the value is missing. Whitespace
   * never gets here: `push` reads it as the space between values.
   */
  #scan(byte: number): 'continue' | 'missing' {
    if (byte === QUOTE) this.#inString = true;
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) this.#depth = 1;
    else if (byte === COLON) return 'missing';
    return 'continue';
  }

  #finishCapture(): void {
    const kind = this.#capturing;
    this.#capturing = undefined;
    const pieces = this.#pieces;
    this.#pieces = [];
    const bytes = pieces.length === 1 ? (pieces[0] as Uint8Array) : concat(pieces);
    // The value sits inside the answer object (and a PDU inside its array too): the depth left
    // to it is what parseJson of the whole body would allow there.
    const maxDepth = DEFAULT_MAX_DEPTH - (kind === 'element' ? 2 : 1);
    let value: unknown;
    try {
      value = parseJson(bytes, { maxBytes: bytes.byteLength, maxDepth });
    } catch (cause) {
      throw new MalformedAnswerError('a value is not valid JSON', { cause });
    }
    if (kind === 'key') {
      const key = value as string;
      if (this.#fields.has(key) || (PDU_LISTS.has(key) && this.#lists[key as AnswerList])) {
        throw new MalformedAnswerError(`duplicate key ${JSON.stringify(key)}`);
      }
      this.#key = key;
      this.#expect = 'colon';
    } else if (kind === 'value') {
      this.#fields.set(this.#key, value);
      this.#expect = 'after-value';
    } else {
      const list = this.#key as AnswerList;
      (this.#lists[list] as unknown[]).push(value);
      this.#expect = 'after-element';
      this.#onPdu(value, list);
    }
  }
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const piece of pieces) length += piece.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}
