// signEventWithId (server-server API "Adding hashes and signatures to outgoing events" plus
// "Calculating the reference hash for an event" from one encoding) must give exactly what
// signEvent followed by computeEventId gives, in every room version's redaction rules, for
// events with prior signatures, non-ASCII text and keys the redaction drops.
import { encodeCanonicalJsonBytes } from '@weft/canonical-json';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  computeContentHash,
  computeEventId,
  type JsonObject,
  REDACTION_V10,
  REDACTION_V11,
  REDACTION_V12,
  signEvent,
  signEventWithId,
  signingKeyFromSeed,
  verifyEventWithId,
} from '../src/index.ts';

const key = signingKeyFromSeed(new Uint8Array(32).fill(7), 'k1');

/**
 * signEventWithId, and what the step-by-step functions say of its event: the content hash of the
 * input ("Calculating the content hash", whatever `hashes` the input carried), the event ID of
 * the signed event, its canonical size. (signEvent is signEventWithId's event since 371cfd4.)
 */
function bothWays(event: JsonObject, version: string | typeof REDACTION_V10) {
  const fast = signEventWithId(event, version, 'example.org', key);
  const signed = signEvent(event, version, 'example.org', key);
  expect((fast.event['hashes'] as Record<string, unknown>)['sha256']).toBe(
    computeContentHash(event),
  );
  return {
    fast,
    slow: {
      event: signed,
      eventId: computeEventId(signed, version),
      canonicalBytes: encodeCanonicalJsonBytes(fast.event).length,
    },
  };
}

const base = {
  type: 'm.room.message',
  room_id: '!r:example.org',
  sender: '@alice:example.org',
  origin_server_ts: 1_700_000_000_000,
  depth: 12,
  prev_events: ['$a'],
  auth_events: ['$b', '$c'],
  content: { msgtype: 'm.text', body: 'héllo \u{1f600} "quoted" \\ \n' },
};

describe('signEventWithId', () => {
  it('refuses a key that is not Ed25519 as signEvent does', () => {
    const rsa = { keyId: 'rsa:1', sign: () => new Uint8Array(64) } as unknown as typeof key;
    expect(() => signEvent(base, '11', 'example.org', rsa)).toThrow(/only ed25519/);
    expect(() => signEventWithId(base, '11', 'example.org', rsa)).toThrow(/only ed25519/);
  });

  it('equals signEvent + computeEventId for a message in rooms v10, v11 and v12', () => {
    for (const version of ['10', '11', '12']) {
      const { fast, slow } = bothWays(base, version);
      expect(fast).toEqual(slow);
    }
  });

  it('keeps prior signatures and drops what the redaction drops from the ID only', () => {
    const event = {
      ...base,
      type: 'm.room.member',
      state_key: '@bob:example.org',
      origin: 'example.org',
      membership: 'join',
      unsigned: { age: 5 },
      signatures: {
        'other.org': { 'ed25519:x': 'c2ln' },
        'example.org': { 'ed25519:old': 'b2xk' },
      },
      content: { membership: 'join', displayname: 'Bob', extra: [1, { a: null }] },
    };
    for (const rules of [REDACTION_V10, REDACTION_V11, REDACTION_V12]) {
      const { fast, slow } = bothWays(event, rules);
      expect(fast).toEqual(slow);
      expect(Object.keys(fast.event['signatures'] as object).sort()).toEqual([
        'example.org',
        'other.org',
      ]);
    }
  });

  it('replaces a stale content hash on the input', () => {
    const stale = { ...base, hashes: { sha256: 'c3RhbGU', other: 'x' } };
    for (const version of ['10', '11', '12']) {
      const { fast, slow } = bothWays(stale, version);
      expect(fast).toEqual(slow);
      expect(fast.event['hashes']).toEqual({ sha256: computeContentHash(base) });
    }
  });

  it('produces events that verify, with the ID the verifier computes', () => {
    const { fast } = bothWays(base, '11');
    const checked = verifyEventWithId(fast.event, '11', (entity, keyId) =>
      entity === 'example.org' && keyId === key.keyId ? key.publicKey : undefined,
    );
    expect(checked.verification).toEqual({ status: 'valid' });
    expect(checked.eventId).toBe(fast.eventId);
  });

  it('agrees with the step-by-step functions on random contents', () => {
    const json = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.string({ maxLength: 8 }),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(
          fc.string({ maxLength: 5 }).filter((k) => k !== '__proto__'),
          tie('v'),
          { maxKeys: 3 },
        ),
      ),
    })).v;
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ maxLength: 5 }).filter((k) => k !== '__proto__'),
          json,
          { maxKeys: 4 },
        ),
        fc.constantFrom('10', '11', '12'),
        (content, version) => {
          const { fast, slow } = bothWays({ ...base, content } as JsonObject, version);
          expect(fast).toEqual(slow);
        },
      ),
      { numRuns: 200 },
    );
  });
});
