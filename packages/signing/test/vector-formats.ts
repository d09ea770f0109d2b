/**
 * Vector formats of @weft/signing (contract: tooling/test-vectors/src/format.ts). Each format
 * recognises a file by the shape of its cases, never by its name:
 *
 * - `unpadded-base64`: `{input_utf8, expected}` (spec appendices, "Unpadded Base64").
 * - `signed-json`: `{signing_key, input, expected}` sign cases, `{verify_key, input,
 *   expected_valid}` verify cases, and shape-only `verifiable: false` cases (spec "JSON Signing"
 *   test vectors; signedjson 1.1.1).
 * - `event-signing`: `{room_version, signing_key, input, expected, expected_content_hash}`
 *   (spec "Event Signing" test vectors).
 * - `event-hashes`: `{room_version, signing_key, input, expected: {content_hash, redacted, …}}`
 *   (events-generated.json: spec redaction/hash rules for room versions 10, 11, 12).
 */
import assert from 'node:assert/strict';
import { encodeCanonicalJson } from '@weft/canonical-json';
import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';
import { referenceHashInput } from '../src/event-hashes.ts';
import {
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeRoomId,
  decodeBase64,
  encodeBase64,
  type JsonObject,
  redactEvent,
  signEvent,
  signingKeyFromSeed,
  signJson,
  verifyEvent,
  verifyEventWithId,
  verifyJson,
} from '../src/index.ts';
import { redactionRulesFor } from '../src/redaction.ts';

type Case = Record<string, unknown>;

interface KeySpec {
  readonly seed: string;
  readonly server_name: string;
  readonly key_id: string;
  readonly public_key: string;
}

function casesOf(file: VectorFile): Case[] {
  return (file.cases ?? []).filter((c): c is Case => typeof c === 'object' && c !== null);
}

function allCases(file: VectorFile, test: (c: Case) => boolean): boolean {
  const cases = casesOf(file);
  return cases.length > 0 && cases.every(test);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function named(c: Case, index: number): string {
  return `cases[${index}] ${typeof c['name'] === 'string' ? c['name'] : '(unnamed)'}`;
}

/** The signing key of a case, checked against the public key the vector states. */
function keyOf(spec: KeySpec) {
  const version = spec.key_id.slice(spec.key_id.indexOf(':') + 1);
  const key = signingKeyFromSeed(spec.seed, version);
  assert.equal(key.keyId, spec.key_id);
  assert.equal(key.publicKeyBase64, spec.public_key, 'public key derived from the seed');
  return key;
}

function lookupFor(spec: KeySpec) {
  return (entity: string, keyId: string) =>
    entity === spec.server_name && keyId === spec.key_id ? spec.public_key : undefined;
}

const utf8 = new TextEncoder();

export const unpaddedBase64: VectorFormat = {
  name: 'unpadded-base64',
  detect: (file) =>
    allCases(file, (c) => typeof c['input_utf8'] === 'string' && typeof c['expected'] === 'string'),
  cases: (file) =>
    casesOf(file).map((c, index) => ({
      name: named(c, index),
      run() {
        const bytes = utf8.encode(c['input_utf8'] as string);
        assert.equal(encodeBase64(bytes), c['expected']);
        assert.deepEqual(decodeBase64(c['expected'] as string), bytes);
      },
    })),
};

function signedJsonCase(c: Case, index: number): VectorCase {
  const name = named(c, index);
  const input = c['input'] as JsonObject;
  if (c['verifiable'] === false) {
    // Shape only (spec "Signing Details" example; its seed is unknown): the signature found at
    // signatures[entity][keyId] is 64 bytes of valid base64, and signing the object with another
    // key keeps that signature and `unsigned` (which the signature does not cover).
    return {
      name,
      run() {
        const signatures = input['signatures'] as Record<string, Record<string, string>>;
        const [entity, byKey] = Object.entries(signatures)[0] ?? assert.fail('no signatures');
        for (const value of Object.values(byKey)) assert.equal(decodeBase64(value).length, 64);
        const other = signingKeyFromSeed(new Uint8Array(32).fill(7), 'shape');
        const signed = signJson(input, 'other.example', other.keyId, other);
        assert.deepEqual(signed.signatures[entity], byKey);
        assert.deepEqual(signed['unsigned'], input['unsigned']);
        assert.equal(verifyJson(signed, 'other.example', other.keyId, other.publicKey).valid, true);
      },
    };
  }
  if (isObject(c['verify_key'])) {
    const spec = c['verify_key'] as unknown as Omit<KeySpec, 'seed'>;
    return {
      name,
      run() {
        const result = verifyJson(
          input,
          spec.server_name,
          spec.key_id,
          decodeBase64(spec.public_key),
        );
        assert.equal(result.valid, c['expected_valid'], `reason: ${String(c['reason'])}`);
      },
    };
  }
  const spec = c['signing_key'] as KeySpec;
  return {
    name,
    run() {
      const key = keyOf(spec);
      const signed = signJson(input, spec.server_name, spec.key_id, key);
      assert.deepEqual(signed, c['expected']);
      // The raw-seed form signs identically (Ed25519 is deterministic).
      const bySeed = signJson(input, spec.server_name, spec.key_id, key.exportSeed());
      assert.deepEqual(bySeed, c['expected']);
      assert.equal(verifyJson(signed, spec.server_name, spec.key_id, key.publicKey).valid, true);
    },
  };
}

export const signedJson: VectorFormat = {
  name: 'signed-json',
  detect: (file) =>
    allCases(
      file,
      (c) =>
        c['room_version'] === undefined &&
        isObject(c['input']) &&
        ((isObject(c['signing_key']) && isObject(c['expected'])) ||
          (isObject(c['verify_key']) && typeof c['expected_valid'] === 'boolean') ||
          c['verifiable'] === false),
    ),
  cases: (file) => casesOf(file).map(signedJsonCase),
};

export const eventSigning: VectorFormat = {
  name: 'event-signing',
  detect: (file) =>
    allCases(
      file,
      (c) =>
        typeof c['room_version'] === 'string' &&
        isObject(c['signing_key']) &&
        isObject(c['expected']) &&
        typeof c['expected_content_hash'] === 'string',
    ),
  cases: (file) =>
    casesOf(file).map((c, index) => ({
      name: named(c, index),
      run() {
        // The spec's vectors hold for room versions 1–10 (the note says `origin` survives
        // redaction); 10 is the oldest version this package implements.
        const roomVersion = '10';
        const spec = c['signing_key'] as KeySpec;
        const input = c['input'] as JsonObject;
        const expected = c['expected'] as JsonObject;
        assert.equal(computeContentHash(input), c['expected_content_hash']);
        assert.deepEqual(signEvent(input, roomVersion, spec.server_name, keyOf(spec)), expected);
        assert.deepEqual(redactEvent(expected, roomVersion), c['expected_redacted_v10']);
        assert.deepEqual(verifyEvent(expected, roomVersion, lookupFor(spec)), { status: 'valid' });
      },
    })),
};

export const eventHashes: VectorFormat = {
  name: 'event-hashes',
  detect: (file) =>
    allCases(
      file,
      (c) =>
        typeof c['room_version'] === 'string' &&
        isObject(c['expected']) &&
        typeof (c['expected'] as Case)['content_hash'] === 'string' &&
        typeof (c['expected'] as Case)['reference_hash'] === 'string',
    ),
  cases: (file) =>
    casesOf(file).map((c, index) => ({
      name: named(c, index),
      run() {
        const roomVersion = c['room_version'] as string;
        const spec = c['signing_key'] as KeySpec;
        const input = c['input'] as JsonObject;
        const expected = c['expected'] as Case;
        const signed = signEvent(input, roomVersion, spec.server_name, keyOf(spec));
        assert.equal(computeContentHash(input), expected['content_hash']);
        assert.deepEqual(redactEvent(input, roomVersion), expected['redacted']);
        assert.deepEqual(signed, expected['signed']);
        assert.deepEqual(redactEvent(signed, roomVersion), expected['redacted_signed']);
        const hashInput = referenceHashInput(signed, redactionRulesFor(roomVersion));
        assert.equal(new TextDecoder().decode(hashInput), expected['reference_hash_input']);
        assert.equal(
          encodeCanonicalJson(JSON.parse(expected['reference_hash_input'] as string)),
          expected['reference_hash_input'],
        );
        assert.equal(computeReferenceHash(signed, roomVersion), expected['reference_hash']);
        assert.equal(computeEventId(signed, roomVersion), expected['event_id']);
        // Room v12 create events define the room ID; the vector must give it, and we must match.
        const definesRoom = roomVersion === '12' && input['type'] === 'm.room.create';
        assert.equal(
          expected['room_id'] !== undefined,
          definesRoom,
          'room_id given exactly for v12 create events',
        );
        if (definesRoom) {
          assert.equal(computeRoomId(signed, roomVersion), expected['room_id']);
        }
        // The signed event verifies; its redacted copy verifies too but must be used redacted
        // (unless redaction removed nothing the content hash covers).
        const lookup = lookupFor(spec);
        assert.deepEqual(verifyEvent(signed, roomVersion, lookup), { status: 'valid' });
        const redacted = expected['redacted_signed'] as JsonObject;
        const outcome = verifyEvent(redacted, roomVersion, lookup);
        const unchanged = computeContentHash(redacted) === expected['content_hash'];
        assert.equal(outcome.status, unchanged ? 'valid' : 'redact');
        // One encoding gives the verdict and the event ID: the same as the two separate calls,
        // for the event as signed and for its redacted copy (whose reference hash is the same).
        assert.deepEqual(verifyEventWithId(signed, roomVersion, lookup), {
          verification: { status: 'valid' },
          eventId: expected['event_id'],
        });
        assert.deepEqual(verifyEventWithId(redacted, roomVersion, lookup), {
          verification: outcome,
          eventId: expected['event_id'],
        });
      },
    })),
};

export const formats: VectorFormat[] = [unpaddedBase64, signedJson, eventSigning, eventHashes];
