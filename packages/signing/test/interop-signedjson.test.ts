// Interop with Synapse's own signing library, Debian's python3-signedjson 1.1.1 (over
// python3-canonicaljson and PyNaCl/libsodium), in both directions on random JSON objects:
// identical signatures (Ed25519 is deterministic), mutual verification, tampering rejected by
// both. Each direction is ONE Python call carrying the whole batch.
import { requirePythonModule, runPython } from '@weft/interop';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  decodeBase64,
  encodeBase64,
  type JsonObject,
  signingKeyFromSeed,
  signJson,
  verifyJson,
} from '../src/index.ts';

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
