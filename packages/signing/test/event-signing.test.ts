// Event hashing, signing and verification: server-server API "Signing Events" (adding hashes and
// signatures, validating them on receipt, reference and content hashes).

import { encodeCanonicalJsonBytes } from '@weft/canonical-json';
import { describe, expect, it } from 'vitest';
import {
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeRoomId,
  encodeEventForVerification,
  type JsonObject,
  type KeyLookup,
  redactEvent,
  SigningError,
  signEvent,
  signingKeyFromSeed,
  signJson,
  verifyEncodedEvent,
  verifyEvent,
  verifyEventWithId,
} from '../src/index.ts';

const key = signingKeyFromSeed(new Uint8Array(32).fill(5), 'k1');
const otherKey = signingKeyFromSeed(new Uint8Array(32).fill(6), 'k2');

const lookup: KeyLookup = (entity, keyId) =>
  entity === 'example.org' && keyId === key.keyId ? key.publicKey : undefined;

const message = Object.freeze({
  type: 'm.room.message',
  room_id: '!r:example.org',
  sender: '@alice:example.org',
  origin_server_ts: 1_700_000_000_000,
  depth: 3,
  prev_events: ['$p'],
  auth_events: ['$a'],
  content: Object.freeze({ body: 'hi', msgtype: 'm.text' }),
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return SigningError.isInstance(error) ? error.code : `not a SigningError: ${String(error)}`;
  }
  return undefined;
}

describe('signEvent', () => {
  it('adds hashes.sha256 = content hash, signs, and never mutates the input', () => {
    const before = JSON.stringify(message);
    const signed = signEvent(message, '11', 'example.org', key);
    expect(JSON.stringify(message)).toBe(before);
    expect(signed['hashes']).toEqual({ sha256: computeContentHash(message) });
    expect(verifyEvent(signed, '11', lookup)).toEqual({ status: 'valid' });
  });

  it('content hash ignores unsigned, signatures and hashes', () => {
    const noisy = {
      ...message,
      unsigned: { age: 5 },
      signatures: { x: {} },
      hashes: { sha256: 'x' },
    };
    expect(computeContentHash(noisy)).toBe(computeContentHash(message));
    expect(computeContentHash({ ...message, depth: 4 })).not.toBe(computeContentHash(message));
  });

  it('a top-level destinations/outlier/age_ts (dropped by Synapse) leaves the event valid', () => {
    const signed = signEvent(message, '11', 'example.org', key);
    const noisy = { ...signed, destinations: ['b.example'], outlier: false, age_ts: 7 };
    expect(computeContentHash(noisy)).toBe(computeContentHash(message));
    expect(verifyEvent(noisy, '11', lookup)).toEqual({ status: 'valid' });
    const encoded = encodeEventForVerification(noisy, '11');
    expect(encoded.canonicalBytes).toBe(encodeCanonicalJsonBytes(noisy).length);
    expect(encoded.eventId).toBe(computeEventId(signed, '11'));
  });

  it('the event ID depends only on the redacted form, and differs between v10 and v11', () => {
    const signed = signEvent({ ...message, origin: 'example.org' }, '10', 'example.org', key);
    const id = computeEventId(signed, '10');
    expect(id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect(
      computeEventId({ ...signed, content: { body: 'changed' }, unsigned: { a: 1 } }, '10'),
    ).toBe(id);
    expect(computeEventId(signed, '11')).not.toBe(id);
    const url = id.slice(1).replaceAll('-', '+').replaceAll('_', '/');
    expect(computeReferenceHash(signed, '10')).toBe(url);
  });
});

describe('computeRoomId', () => {
  const create = {
    type: 'm.room.create',
    state_key: '',
    sender: '@a:example.org',
    content: { room_version: '12' },
  };

  it('is the create event ID with sigil ! in room v12', () => {
    const signed = signEvent(create, '12', 'example.org', key);
    expect(computeRoomId(signed, '12')).toBe(`!${computeEventId(signed, '12').slice(1)}`);
  });

  it('is refused for room versions with server-named room IDs and for other event types', () => {
    expect(codeOf(() => computeRoomId(create, '11'))).toBe('unsupported-room-version');
    expect(codeOf(() => computeRoomId({ ...create, type: 'm.room.member' }, '12'))).toBe(
      'bad-event',
    );
  });
});

describe('verifyEvent', () => {
  const signed = signEvent(message, '11', 'example.org', key);

  it('content change with intact signature → redact, with the redacted copy', () => {
    const tampered = { ...signed, content: { body: 'evil' } };
    const outcome = verifyEvent(tampered, '11', lookup);
    expect(outcome).toEqual({
      status: 'redact',
      code: 'content-hash-mismatch',
      redacted: redactEvent(tampered, '11'),
    });
  });

  it('a missing or malformed hash under a valid signature → redact', () => {
    // Sign the redacted form directly, as a server that forgot or garbled `hashes` would.
    for (const hashes of [undefined, { sha256: 'not base64!' }, { sha512: 'x' }, 'x']) {
      const event = hashes === undefined ? { ...message } : { ...message, hashes };
      const { signatures } = signJson(redactEvent(event, '11'), 'example.org', key.keyId, key);
      expect(verifyEvent({ ...event, signatures }, '11', lookup)).toMatchObject({
        status: 'redact',
        code: 'content-hash-mismatch',
      });
    }
  });

  it('removing hashes from a signed event breaks the signature, which covers them', () => {
    const { hashes: _dropped, ...noHashes } = signed;
    expect(verifyEvent(noHashes, '11', lookup)).toMatchObject({
      status: 'reject',
      code: 'bad-signature',
    });
  });

  it('unsigned data may change freely', () => {
    expect(verifyEvent({ ...signed, unsigned: { age: 1 } }, '11', lookup).status).toBe('valid');
  });

  it('a change to a redaction-protected field → reject bad-signature', () => {
    expect(verifyEvent({ ...signed, depth: 4 }, '11', lookup)).toMatchObject({
      status: 'reject',
      code: 'bad-signature',
      entity: 'example.org',
      keyId: key.keyId,
    });
    const garbled = { ...signed, signatures: { 'example.org': { [key.keyId]: 'not base64!' } } };
    expect(verifyEvent(garbled, '11', lookup)).toMatchObject({
      status: 'reject',
      code: 'bad-signature',
    });
  });

  it('no signature from the sender server → reject missing-signature', () => {
    const byOther = signEvent(message, '11', 'other.org', otherKey);
    expect(verifyEvent(byOther, '11', lookup)).toMatchObject({
      status: 'reject',
      code: 'missing-signature',
      entity: 'example.org',
    });
    const onlyUnknownAlgorithm = {
      ...signed,
      signatures: { 'example.org': { 'curve25519:x': 'AAAA' } },
    };
    expect(verifyEvent(onlyUnknownAlgorithm, '11', lookup)).toMatchObject({
      code: 'missing-signature',
    });
  });

  it('unknown key → missing-key listing the key IDs to fetch', () => {
    expect(verifyEvent(signed, '11', () => undefined)).toEqual({
      status: 'missing-key',
      code: 'missing-key',
      entity: 'example.org',
      keyIds: [key.keyId],
    });
  });

  it('passes origin_server_ts to the lookup so expired keys can be skipped', () => {
    const seen: unknown[] = [];
    verifyEvent(signed, '11', (entity, keyId, ts) => {
      seen.push([entity, keyId, ts]);
      return key.publicKeyBase64;
    });
    expect(seen).toEqual([['example.org', key.keyId, message.origin_server_ts]]);
  });

  it('every known key of the server must verify; unknown ones are skipped', () => {
    const twoKeys = signEvent(signed, '11', 'example.org', otherKey);
    const both: KeyLookup = (entity, keyId) =>
      entity !== 'example.org'
        ? undefined
        : keyId === key.keyId
          ? key.publicKey
          : otherKey.publicKey;
    expect(verifyEvent(twoKeys, '11', both).status).toBe('valid');
    expect(verifyEvent(twoKeys, '11', lookup).status).toBe('valid');
    const wrongSecond: KeyLookup = (entity, keyId) =>
      entity !== 'example.org' ? undefined : keyId === key.keyId ? key.publicKey : key.publicKey;
    expect(verifyEvent(twoKeys, '11', wrongSecond)).toMatchObject({
      code: 'bad-signature',
      keyId: otherKey.keyId,
    });
  });

  it('requiredServers overrides the sender-derived default', () => {
    const cosigned = signEvent(signed, '11', 'other.org', otherKey);
    const all: KeyLookup = (entity) =>
      entity === 'example.org'
        ? key.publicKey
        : entity === 'other.org'
          ? otherKey.publicKey
          : undefined;
    expect(
      verifyEvent(cosigned, '11', all, { requiredServers: ['example.org', 'other.org'] }).status,
    ).toBe('valid');
    expect(() => verifyEvent(signed, '11', all, { requiredServers: [] })).toThrow(RangeError);
    expect(verifyEvent(signed, '11', all, { requiredServers: ['other.org'] })).toMatchObject({
      code: 'missing-signature',
      entity: 'other.org',
    });
  });

  it('third-party invites: any server may sign, but some known signature must verify', () => {
    const invite = {
      ...message,
      type: 'm.room.member',
      state_key: '@bob:example.org',
      sender: '@carol:elsewhere.org',
      content: {
        membership: 'invite',
        third_party_invite: { signed: { mxid: '@bob:example.org' } },
      },
    };
    const signedInvite = signEvent(invite, '11', 'example.org', key);
    expect(verifyEvent(signedInvite, '11', lookup).status).toBe('valid');
    expect(verifyEvent(signedInvite, '11', () => undefined).status).toBe('missing-key');
    expect(verifyEvent({ ...invite, hashes: signedInvite['hashes'] }, '11', lookup)).toMatchObject({
      status: 'reject',
      code: 'missing-signature',
    });
    expect(verifyEvent({ ...signedInvite, depth: 99 }, '11', lookup).status).toBe('reject');
  });

  it('malformed events → reject bad-event; misuse → TypeError; unknown version → throws', () => {
    expect(verifyEvent({ ...signed, sender: 'alice' }, '11', lookup)).toMatchObject({
      code: 'bad-event',
    });
    expect(verifyEvent({ ...signed, content: 'x' }, '11', lookup)).toMatchObject({
      code: 'bad-event',
    });
    expect(verifyEvent({ ...signed, depth: 1.5 }, '11', lookup)).toMatchObject({
      code: 'bad-event',
    });
    expect(verifyEvent({ ...signed, signatures: [] }, '11', lookup)).toMatchObject({
      code: 'bad-event',
    });
    expect(() => verifyEvent(signed, '11', 'lookup' as unknown as KeyLookup)).toThrow(TypeError);
    expect(() => verifyEvent(null as unknown as JsonObject, '11', lookup)).toThrow(TypeError);
    expect(codeOf(() => verifyEvent(signed, '1', lookup))).toBe('unsupported-room-version');
    expect(codeOf(() => verifyEvent(signed, '11', () => new Uint8Array(31)))).toBe('bad-key');
  });
});

describe('verifyEventWithId', () => {
  it("gives computeEventId's ID next to verifyEvent's verdict, whatever the verdict", () => {
    for (const version of ['10', '11', '12']) {
      const signed = signEvent(message, version, 'example.org', key);
      const tampered = { ...signed, content: { body: 'changed' }, unsigned: { age: 5 } };
      const forged = { ...signed, depth: 99 };
      const unknownKey = signEvent(message, version, 'example.org', otherKey);
      for (const event of [signed, tampered, forged, unknownKey]) {
        expect(verifyEventWithId(event, version, lookup)).toEqual({
          verification: verifyEvent(event, version, lookup),
          eventId: computeEventId(event, version),
        });
      }
      expect(verifyEventWithId(tampered, version, lookup).verification.status).toBe('redact');
      expect(verifyEventWithId(forged, version, lookup).verification.status).toBe('reject');
    }
  });

  it('gives no ID for an event that cannot be encoded', () => {
    const outcome = verifyEventWithId({ ...message, depth: 1.5 }, '11', lookup);
    expect(outcome.eventId).toBeUndefined();
    expect(outcome.verification).toMatchObject({ status: 'reject', code: 'bad-event' });
  });
});

describe('encodeEventForVerification and verifyEncodedEvent', () => {
  it("give computeEventId's ID, the whole event's canonical size and verifyEvent's verdict", () => {
    for (const version of ['10', '11', '12']) {
      const signed = signEvent(message, version, 'example.org', key);
      const events: JsonObject[] = [
        signed,
        { ...signed, content: { body: 'changed' }, unsigned: { age: 5, é: ['ü', '😀'] } },
        { ...signed, depth: 99 },
        signEvent(message, version, 'example.org', otherKey),
        // Multi-byte text in every part the size counts: content, keys, signatures' neighbours.
        signEvent(
          { ...message, content: { body: 'ünïcödé 😀 \u0001 "q"', ключ: 'значение' } },
          version,
          'example.org',
          key,
        ),
        // No hashes or signatures at all, and nothing but them.
        { ...message },
        { hashes: { sha256: 'x' }, signatures: {} },
        {},
      ];
      for (const event of events) {
        const encoded = encodeEventForVerification(event, version);
        expect(encoded.canonicalBytes).toBe(encodeCanonicalJsonBytes(event).length);
        if (Object.keys(event).length === 0) continue;
        expect(encoded.eventId).toBe(computeEventId(event, version));
        expect(verifyEncodedEvent(event, encoded, version, lookup)).toEqual(
          verifyEvent(event, version, lookup),
        );
      }
    }
  });

  it('throws SigningError for an event canonical JSON cannot encode, in any part', () => {
    expect(codeOf(() => encodeEventForVerification({ ...message, depth: 1.5 }, '11'))).toBe(
      'bad-json',
    );
    // `unsigned` is outside both signed texts, yet part of the size: still encoded.
    expect(
      codeOf(() => encodeEventForVerification({ ...message, unsigned: { age: 0.5 } }, '11')),
    ).toBe('bad-json');
  });
});
