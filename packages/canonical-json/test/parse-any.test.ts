/**
 * parseAnyJson returns what JSON.parse means to return for any JSON text, keys with escapes
 * included: V8's JSON.parse (Node 24.21) can decode such a key as another key it met before.
 */
import { describe, expect, it } from 'vitest';

import { CanonicalJsonError, parseAnyJson } from '../src/index.ts';
import { parseStrict } from '../src/parse.ts';

// Characters that JSON.stringify escapes (quote, backslash, controls) and some it does not.
const KEY_CHARS = ['a', '"', '\\', '\n', '\t', '\u0001', '/', 'é', '中'];

/** A deterministic generator (xorshift32), so a failure repeats. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function randomKey(next: () => number): string {
  let key = '';
  const length = Math.floor(next() * 4);
  for (let i = 0; i < length; i++) key += KEY_CHARS[Math.floor(next() * KEY_CHARS.length)];
  return key;
}

/** Nested objects whose values are strings, floats and objects. */
function randomObject(next: () => number, depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  const size = 1 + Math.floor(next() * 3);
  for (let i = 0; i < size; i++) {
    const key = randomKey(next);
    const pick = next();
    object[key] =
      pick < 0.3 && depth > 0 ? randomObject(next, depth - 1) : pick < 0.7 ? key : next();
  }
  return object;
}

describe('parseAnyJson', () => {
  it('reads escaped keys right in texts the strict rules refuse (after priming V8)', () => {
    // First in this file (a fresh isolate): the shape that makes V8 read the key `"` as `\`
    // in the texts below; later objects of other shapes can hide it.
    JSON.parse('{"":0,"\\\\":1}');
    const texts: [string, unknown][] = [
      ['{"":0,"\\"":1,"big":9007199254740993}', { '': 0, '"': 1, big: 2 ** 53 }],
      ['{"":0,"\\"":1,"s":"\\ud800"}', { '': 0, '"': 1, s: '\ud800' }],
      ['{"":0,"\\"":1,"\\"":2}', { '': 0, '"': 2 }],
      ['{"":0,"\\"":-0}', { '': 0, '"': -0 }],
    ];
    for (const [text, value] of texts) expect(parseAnyJson(text), text).toEqual(value);
  });

  it('reads every key with escapes as written, beside strings and floats (100,000 objects)', () => {
    const next = random(0x5eed);
    let wrong = 0;
    for (let i = 0; i < 100_000; i++) {
      const text = JSON.stringify(randomObject(next, 2));
      if (JSON.stringify(parseAnyJson(text)) !== text) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('lenient mode reads as JSON.parse: numbers, repeated keys, surrogates, __proto__', () => {
    const texts = [
      '[-0, 1e400, -1e400, 0.1, 9007199254740993, 1E-7, -1.5e+3, 123456789012345678901234567890]',
      '{"a":1,"b":{"c":2},"a":{"d":[3]}}',
      '["\\ud800", "\\udc00x", "\\ud83d\\ude00", "\ud800", "a\udfffb"]',
      '{"__proto__":{"x":1},"k":[{"__proto__":null}]}',
      ' {"nested":[[{"deep":[true,false,null]}]]} ',
    ];
    for (const text of texts) {
      expect(parseStrict(text, false, 512, 'any-json'), text).toEqual(JSON.parse(text));
    }
    const proto = parseStrict('{"__proto__":{"x":1}}', false, 512, 'any-json');
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });

  it('returns what JSON.parse returns for texts the strict parser refuses', () => {
    expect(parseAnyJson('{"a\\n":1.5,"b\\t":9007199254740994}')).toEqual({
      'a\n': 1.5,
      'b\t': 2 ** 53 + 2,
    });
    expect(parseAnyJson('[1e400, -0]')).toEqual([Number.POSITIVE_INFINITY, -0]);
    expect(parseAnyJson('{"k\\"":"\\ud800"}')).toEqual({ 'k"': '\ud800' });
    expect(parseAnyJson('{"a":1,"a":2}')).toEqual({ a: 2 });
    expect(parseAnyJson('{"a\\\\":1,"a\\\\":2}')).toEqual({ 'a\\': 2 });
  });

  it('reads bytes as UTF-8, ill-formed sequences as U+FFFD (as Response.json does)', () => {
    expect(parseAnyJson(new TextEncoder().encode('{"é\\n":"中"}'))).toEqual({ 'é\n': '中' });
    expect(parseAnyJson(new Uint8Array([0x22, 0xff, 0x22]))).toBe('\ufffd');
  });

  it('throws CanonicalJsonError "syntax" with an offset for text that is not JSON', () => {
    for (const text of ['{"k":"secret', '{"k\\n":"secret', '', 'nul', '{"k":secret}']) {
      let caught: unknown;
      try {
        parseAnyJson(text);
      } catch (error) {
        caught = error;
      }
      expect(CanonicalJsonError.isInstance(caught), text).toBe(true);
      expect((caught as CanonicalJsonError).code, text).toBe('syntax');
      // Where, never what: the text's values stay out of the message.
      expect((caught as CanonicalJsonError).message, text).not.toContain('secret');
    }
    expect(() => parseAnyJson(42 as unknown as string)).toThrow(TypeError);
  });
});
