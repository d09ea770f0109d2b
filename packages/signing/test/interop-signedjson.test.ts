// Interop with Synapse's own signing library, Debian's python3-signedjson 1.1.1 (over
// python3-canonicaljson and PyNaCl/libsodium), in both directions on random JSON objects:
// identical signatures (Ed25519 is deterministic), mutual verification, tampering rejected by
// both. Each direction is ONE Python call carrying the whole batch.
import { requirePythonModule, runPython } from '@weft/interop';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  computeContentHash,
  decodeBase64,
  decodeBase64Lenient,
  encodeBase64,
  type JsonObject,
  type KeyLookup,
  redactEvent,
  SigningError,
  signEvent,
  signingKeyFromSeed,
  signJson,
  verifyEvent,
  verifyJson,
} from '../src/index.ts';
import { decodePublicKey, decodeVerifyKey } from '../src/keys.ts';

const BATCH = 40;

/** Object keys: any well-formed string except `__proto__` (which JS object literals treat specially). */
const key = fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => k !== '__proto__');

/** JSON values canonical JSON accepts: safe integers, well-formed strings, no floats. */
const jsonValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const signable = fc.record(
  {
    seed: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    version: fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/),
    entity: fc.constantFrom('example.org', '[::1]:8448', 'matrix.org', '@user:example.org'),
    object: fc.dictionary(
      key.filter((k) => k !== 'signatures' && k !== 'unsigned'),
      jsonValue,
      { maxKeys: 6 },
    ),
    unsigned: fc.option(fc.dictionary(key, jsonValue, { maxKeys: 2 }), { nil: undefined }),
    foreign: fc.boolean(),
  },
  { requiredKeys: ['seed', 'version', 'entity', 'object', 'foreign'] },
);

type Sample = typeof signable extends fc.Arbitrary<infer T> ? T : never;

function buildInput(c: Sample): JsonObject {
  const input: Record<string, unknown> = { ...c.object };
  if (c.unsigned !== undefined) input['unsigned'] = c.unsigned;
  if (c.foreign) {
    input['signatures'] = {
      'foreign.example': { 'ed25519:f': encodeBase64(new Uint8Array(64).fill(1)) },
    };
  }
  return input;
}

/** A change the signature covers: a new top-level key. */
function tamper(object: JsonObject): JsonObject {
  return { ...object, 'weft-tampered': true };
}

const PYTHON = `
import json, sys
import signedjson.key, signedjson.sign
req = json.load(sys.stdin)
out = []
if req["direction"] == "weft-to-python":
    for c in req["cases"]:
        key = signedjson.key.decode_signing_key_base64("ed25519", c["version"], c["seed"])
        mine = signedjson.sign.sign_json(json.loads(json.dumps(c["input"])), c["entity"], key)
        verdicts = []
        for obj in (c["signed"], c["tampered"]):
            try:
                signedjson.sign.verify_signed_json(obj, c["entity"], signedjson.key.get_verify_key(key))
                verdicts.append(True)
            except signedjson.sign.SignatureVerifyException:
                verdicts.append(False)
        out.append({"python_signed": mine, "verifies_weft": verdicts[0], "verifies_tampered": verdicts[1]})
else:
    for c in req["cases"]:
        key = signedjson.key.decode_signing_key_base64("ed25519", c["version"], c["seed"])
        signed = signedjson.sign.sign_json(json.loads(json.dumps(c["input"])), c["entity"], key)
        out.append({"signed": signed, "public_key": signedjson.key.encode_verify_key_base64(key.verify_key)})
json.dump(out, sys.stdout)
`;

describe('interop with python3-signedjson', () => {
  let samples: Sample[];
  beforeAll(() => {
    requirePythonModule('signedjson', 'python3-signedjson');
    samples = fc.sample(signable, { numRuns: BATCH, seed: 20261129 });
  });

  it('Weft signs → signedjson signs identically, verifies ours, rejects tampering', () => {
    const cases = samples.map((c) => {
      const input = buildInput(c);
      const signingKey = signingKeyFromSeed(c.seed, c.version);
      const signed = signJson(input, c.entity, signingKey.keyId, signingKey);
      return {
        seed: encodeBase64(c.seed),
        version: c.version,
        entity: c.entity,
        input,
        signed,
        tampered: tamper(signed),
      };
    });
    const results = runPython<
      { python_signed: JsonObject; verifies_weft: boolean; verifies_tampered: boolean }[]
    >(PYTHON, { direction: 'weft-to-python', cases });
    expect(results).toHaveLength(cases.length);
    results.forEach((result, i) => {
      const c = cases[i];
      if (c === undefined) throw new Error('case count mismatch');
      expect(result.python_signed).toEqual(c.signed);
      expect(result.verifies_weft).toBe(true);
      expect(result.verifies_tampered).toBe(false);
    });
  });

  it('signedjson signs → Weft verifies, rejects tampering', () => {
    const cases = samples.map((c) => ({
      seed: encodeBase64(c.seed),
      version: c.version,
      entity: c.entity,
      input: buildInput(c),
    }));
    const results = runPython<{ signed: JsonObject; public_key: string }[]>(PYTHON, {
      direction: 'python-to-weft',
      cases,
    });
    expect(results).toHaveLength(cases.length);
    results.forEach((result, i) => {
      const c = samples[i];
      if (c === undefined) throw new Error('case count mismatch');
      const keyId = `ed25519:${c.version}`;
      const publicKey = decodeBase64(result.public_key);
      expect(publicKey).toEqual(signingKeyFromSeed(c.seed, c.version).publicKey);
      expect(verifyJson(result.signed, c.entity, keyId, publicKey)).toEqual({ valid: true });
      expect(verifyJson(tamper(result.signed), c.entity, keyId, publicKey)).toEqual({
        valid: false,
        reason: 'bad-signature',
      });
    });
  });
});

// Spellings Synapse accepts: signedjson's `verify_signed_json` and Synapse's
// `check_event_content_hash` decode with `unpaddedbase64.decode_base64`, which takes both
// alphabets and ignores non-zero trailing bits. Weft must accept what they accept, or a room
// splits (Synapse keeps an event Weft rejects or redacts).

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The same bytes with the unused low bits of the last character set (`…HBQ` → `…HBR`). */
function withTrailingBits(text: string): string {
  const last = STANDARD.indexOf(text.slice(-1));
  if (last < 0) throw new Error('not standard base64');
  return text.slice(0, -1) + STANDARD.charAt(last | 1);
}

/** The same bytes in the URL-safe alphabet. */
function urlSafe(text: string): string {
  return text.replaceAll('+', '-').replaceAll('/', '_');
}

function withSignature(
  object: JsonObject,
  entity: string,
  keyId: string,
  signature: string,
): JsonObject {
  return { ...object, signatures: { [entity]: { [keyId]: signature } } };
}

const VERIFY_PYTHON = `
import json, sys, hashlib
import signedjson.key, signedjson.sign
from unpaddedbase64 import decode_base64
req = json.load(sys.stdin)
out = []
for c in req["cases"]:
    key = signedjson.key.decode_verify_key_base64("ed25519", c["version"], c["public_key"])
    try:
        signedjson.sign.verify_signed_json(c["object"], c["entity"], key)
        out.append(True)
    except signedjson.sign.SignatureVerifyException:
        out.append(False)
hashes = []
for c in req["hashes"]:
    try:
        hashes.append(list(decode_base64(c)))
    except Exception:
        hashes.append(None)
json.dump({"verified": out, "hashes": hashes}, sys.stdout)
`;

describe('interop with python3-signedjson: spellings Synapse accepts', () => {
  beforeAll(() => {
    requirePythonModule('signedjson', 'python3-signedjson');
  });

  it('a signature with trailing bits set or in the URL-safe alphabet verifies in both', () => {
    const samples = fc.sample(signable, { numRuns: BATCH, seed: 20261130 });
    const cases: {
      version: string;
      entity: string;
      public_key: string;
      object: JsonObject;
      keyId: string;
      publicKey: Uint8Array;
    }[] = [];
    let urlSafeCount = 0;
    for (const c of samples) {
      const signingKey = signingKeyFromSeed(c.seed, c.version);
      const signed = signJson(buildInput(c), c.entity, signingKey.keyId, signingKey);
      const signature = (signed['signatures'] as Record<string, Record<string, string>>)[
        c.entity
      ]?.[signingKey.keyId] as string;
      const variants = [withTrailingBits(signature), withTrailingBits(urlSafe(signature))];
      if (urlSafe(signature) !== signature) {
        variants.push(urlSafe(signature));
        urlSafeCount++;
      }
      for (const variant of variants) {
        expect(variant).not.toBe(signature);
        cases.push({
          version: c.version,
          entity: c.entity,
          // The verify key too, in the other alphabet and with its trailing bits set.
          public_key: withTrailingBits(urlSafe(signingKey.publicKeyBase64)),
          object: withSignature(signed, c.entity, signingKey.keyId, variant),
          keyId: signingKey.keyId,
          publicKey: signingKey.publicKey,
        });
      }
    }
    expect(urlSafeCount).toBeGreaterThan(BATCH / 2);
    const results = runPython<{ verified: boolean[] }>(VERIFY_PYTHON, { cases, hashes: [] });
    expect(results.verified).toEqual(cases.map(() => true));
    for (const c of cases) {
      // Verification decodes the key as Synapse does; the public decoder keeps it canonical.
      expect(verifyJson(c.object, c.entity, c.keyId, decodeVerifyKey(c.public_key))).toEqual({
        valid: true,
      });
      expect(() => decodePublicKey(c.public_key)).toThrow(SigningError);
    }
  });

  it('an event whose signature or content hash has trailing bits set is valid, not redacted', () => {
    const key = signingKeyFromSeed(new Uint8Array(32).fill(7), 'k');
    const lookup: KeyLookup = (entity, keyId) =>
      entity === 'example.org' && keyId === key.keyId ? key.publicKey : undefined;
    const signed = signEvent(
      {
        type: 'm.room.message',
        room_id: '!r:example.org',
        sender: '@a:example.org',
        origin_server_ts: 1_700_000_000_000,
        depth: 2,
        prev_events: ['$p'],
        auth_events: ['$a'],
        content: { body: 'hello', msgtype: 'm.text' },
      },
      '11',
      'example.org',
      key,
    );
    const signatureOf = (object: JsonObject): string =>
      (object['signatures'] as Record<string, Record<string, string>>)['example.org']?.[
        key.keyId
      ] as string;
    const hash = computeContentHash(signed);
    const oddHash = withTrailingBits(hash);
    expect(oddHash).not.toBe(hash);
    // The signature covers `hashes` as text, so the odd-hash event is signed as a sender that
    // spells its hash that way would sign it: the redacted form, hash included.
    const oddHashEvent = { ...signed, hashes: { sha256: oddHash } };
    const { signatures: _old, ...oddRedacted } = redactEvent(oddHashEvent, '11');
    const oddHashSigned = withSignature(
      oddHashEvent,
      'example.org',
      key.keyId,
      signatureOf(signJson(oddRedacted, 'example.org', key.keyId, key)),
    );
    const events = [
      withSignature(signed, 'example.org', key.keyId, withTrailingBits(signatureOf(signed))),
      withSignature(
        signed,
        'example.org',
        key.keyId,
        urlSafe(withTrailingBits(signatureOf(signed))),
      ),
      oddHashSigned,
    ];
    for (const event of events) {
      expect(verifyEvent(event, '11', lookup)).toEqual({ status: 'valid' });
    }
    // signedjson accepts the same signatures on the redacted form (as Synapse checks events),
    // and unpaddedbase64 decodes the odd hash to the very digest (Synapse compares bytes).
    const results = runPython<{ verified: boolean[]; hashes: (number[] | null)[] }>(VERIFY_PYTHON, {
      cases: events.map((event) => ({
        version: 'k',
        entity: 'example.org',
        public_key: key.publicKeyBase64,
        object: redactEvent(event, '11'),
      })),
      hashes: [oddHash, urlSafe(oddHash)],
    });
    expect(results.verified).toEqual([true, true, true]);
    expect(results.hashes).toEqual([[...decodeBase64(hash)], [...decodeBase64(hash)]]);
  });

  it('garbage is still refused, with a typed error', () => {
    const signature = encodeBase64(new Uint8Array(64).fill(9));
    for (const bad of [
      `${signature.slice(0, 40)}!${signature.slice(41)}`,
      `${signature.slice(0, 40)} ${signature.slice(41)}`,
      signature.slice(0, 85), // 4n+1 characters
      `=${signature}`,
      `${signature.slice(0, 40)}=${signature.slice(41)}`,
      `${signature.slice(0, 85)}é`,
    ]) {
      let error: unknown;
      try {
        decodeBase64Lenient(bad);
      } catch (caught) {
        error = caught;
      }
      expect(SigningError.isInstance(error) && error.code).toBe('bad-base64');
      const object = { a: 1, signatures: { 'example.org': { 'ed25519:k': bad } } };
      expect(verifyJson(object, 'example.org', 'ed25519:k', new Uint8Array(32).fill(1))).toEqual({
        valid: false,
        reason: 'bad-base64',
      });
    }
  });
});
