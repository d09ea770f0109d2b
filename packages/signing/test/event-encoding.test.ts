// The shared-encoding fast path of verifyEvent (src/event-encoding.ts) must produce exactly the
// texts of the spec's steps done one by one: canonical JSON of the event minus unsigned,
// signatures and hashes; canonical JSON of the redacted event minus signatures and unsigned.
import { createHash } from 'node:crypto';
import { encodeCanonicalJson } from '@weft/canonical-json';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareCodePoints, encodeEventTexts } from '../src/event-encoding.ts';
import { contentHashBytes } from '../src/event-hashes.ts';
import {
  computeContentHash,
  encodeBase64,
  REDACTION_V10,
  REDACTION_V11,
  REDACTION_V12,
  redactEvent,
} from '../src/index.ts';
import { omitKeys } from '../src/json-object.ts';

const key = fc.oneof(
  fc.constantFrom(
    'type',
    'content',
    'hashes',
    'signatures',
    'unsigned',
    'origin',
    'membership',
    'prev_state',
    'depth',
    'sender',
    'room_id',
    'event_id',
    'state_key',
    // Keys Synapse's compute_content_hash drops beyond the spec's three.
    'age_ts',
    'outlier',
    'destinations',
  ),
  fc.string({ unit: 'binary', maxLength: 6 }).filter((k) => k !== '__proto__'),
);

const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.constantFrom(-0, 2 ** 53, 1.5, Number.NaN),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(key, tie('v'), { maxKeys: 3 }),
  ),
})).v;

const content = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'membership',
      'creator',
      'join_rule',
      'allow',
      'ban',
      'invite',
      'redacts',
      'third_party_invite',
    ),
    fc.string({ unit: 'binary', maxLength: 6 }).filter((k) => k !== '__proto__'),
  ),
  value,
  { maxKeys: 5 },
);

const event = fc
  .tuple(
    fc.dictionary(key, value, { maxKeys: 8 }),
    fc.option(
      fc.constantFrom(
        'm.room.member',
        'm.room.create',
        'm.room.power_levels',
        'm.room.redaction',
        'm.room.message',
      ),
    ),
    fc.option(content),
  )
  .map(([base, type, body]) => {
    const out: Record<string, unknown> = { ...base };
    if (type !== null) out['type'] = type;
    if (body !== null) out['content'] = body;
    return out;
  });

describe('encodeEventTexts', () => {
  it('equals encoding the content-hash object and the redacted object separately', () => {
    fc.assert(
      fc.property(
        event,
        fc.constantFrom(REDACTION_V10, REDACTION_V11, REDACTION_V12),
        (ev, rules) => {
          let separate: { contentHashText: string; signedText: string } | Error;
          try {
            separate = {
              contentHashText: encodeCanonicalJson(
                Object.fromEntries(
                  Object.entries(ev).filter(
                    ([k]) =>
                      ![
                        'unsigned',
                        'signatures',
                        'hashes',
                        'age_ts',
                        'outlier',
                        'destinations',
                      ].includes(k),
                  ),
                ),
              ),
              signedText: encodeCanonicalJson(
                omitKeys(redactEvent(ev, rules), ['signatures', 'unsigned']),
              ),
            };
          } catch (error) {
            separate = error as Error;
          }
          if (separate instanceof Error) {
            expect(() => encodeEventTexts(ev, rules)).toThrow();
          } else {
            const texts = encodeEventTexts(ev, rules);
            expect(texts).toEqual(separate);
            // The generic content-hash path (computeContentHash) hashes the same text.
            expect(encodeBase64(contentHashBytes(ev))).toBe(computeContentHash(ev));
            expect(contentHashBytes(ev)).toEqual(
              new Uint8Array(createHash('sha256').update(texts.contentHashText).digest()),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('orders top-level keys by code point when UTF-16 order would differ', () => {
    // U+FF21 is one unit 0xFF21; U+1F600 starts with 0xD83D, so UTF-16 order puts it first.
    const ev = { '\u{1F600}': 1, '\uFF21': 2, type: 'm.room.message', content: {} };
    const texts = encodeEventTexts(ev, REDACTION_V11);
    expect(texts.contentHashText).toBe(
      '{"content":{},"type":"m.room.message","\uFF21":2,"\u{1F600}":1}',
    );
    expect(texts.contentHashText).toBe(encodeCanonicalJson(ev));
  });
});

describe('content hash: the keys Synapse leaves out', () => {
  // Synapse's compute_content_hash pops age_ts, outlier and destinations besides the spec's
  // unsigned, signatures, hashes; a PDU carrying one must hash as it does (both code paths).
  const pdu = {
    type: 'm.room.message',
    room_id: '!r:example.org',
    sender: '@a:example.org',
    origin_server_ts: 1_700_000_000_000,
    depth: 4,
    prev_events: ['$p'],
    auth_events: ['$a'],
    content: { body: 'hi' },
  };

  it('a top-level destinations, outlier or age_ts does not change the content hash', () => {
    const plain = computeContentHash(pdu);
    const plainText = encodeEventTexts(pdu, REDACTION_V11).contentHashText;
    for (const extra of [
      { destinations: ['other.example'] },
      { outlier: true },
      { age_ts: 1_700_000_000_123 },
      { destinations: { 'other.example': 1 }, outlier: false, age_ts: 5 },
    ]) {
      const noisy = { ...pdu, ...extra };
      expect(computeContentHash(noisy)).toBe(plain);
      expect(encodeEventTexts(noisy, REDACTION_V11).contentHashText).toBe(plainText);
      expect(encodeEventTexts(noisy, REDACTION_V11).signedText).toBe(
        encodeEventTexts(pdu, REDACTION_V11).signedText,
      );
    }
    // Nested keys of those names are content like any other.
    expect(computeContentHash({ ...pdu, content: { body: 'hi', destinations: [] } })).not.toBe(
      plain,
    );
  });
});

describe('compareCodePoints', () => {
  it('orders like comparing arrays of code points', () => {
    const reference = (a: string, b: string) => {
      const x = Array.from(a, (c) => c.codePointAt(0) as number);
      const y = Array.from(b, (c) => c.codePointAt(0) as number);
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
      }
      return x.length - y.length;
    };
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 5 }),
        fc.string({ unit: 'binary', maxLength: 5 }),
        (a, b) => {
          expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(reference(a, b)));
        },
      ),
      { numRuns: 500 },
    );
    // A BMP character above the surrogates sorts before an astral one (UTF-16 order would not).
    expect(compareCodePoints('\uffff', '\u{10000}')).toBeLessThan(0);
  });
});
