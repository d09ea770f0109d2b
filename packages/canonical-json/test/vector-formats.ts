/**
 * The vector formats `@weft/canonical-json` understands, for `npm run vectors` and the test suite.
 *
 * `canonical-json`: files whose every case has `input_json` (text) and `expected` (canonical
 * string), optionally `input` (the same value) and `expected_sha256_hex`, and whose optional
 * `invalid` list holds `{input_json, reason}` texts that MUST be rejected
 * (../shared/vectors/README.md: spec-canonical-json.json, canonical-json-generated.json).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import {
  CanonicalJsonError,
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
  parseJson,
} from '@weft/canonical-json';
import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';

interface EncodeCase {
  readonly name: string;
  readonly input_json: string;
  readonly input?: unknown;
  readonly expected: string;
  readonly expected_sha256_hex?: string;
}

interface InvalidCase {
  readonly name: string;
  readonly input_json: string;
  readonly reason: string;
}

/** The fields a case may have, all unchecked. */
type Unchecked = { readonly [K in keyof EncodeCase | keyof InvalidCase]?: unknown };

function isRecord(value: unknown): value is Unchecked {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEncodeCase(value: unknown): value is EncodeCase {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    typeof value.input_json === 'string' &&
    typeof value.expected === 'string' &&
    (value.expected_sha256_hex === undefined || typeof value.expected_sha256_hex === 'string')
  );
}

function isInvalidCase(value: unknown): value is InvalidCase {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    typeof value.input_json === 'string' &&
    typeof value.reason === 'string'
  );
}

const utf8 = new TextEncoder();

function encodeCaseRun(testCase: EncodeCase): () => void {
  return () => {
    // The text through the strict parser, as a string and as network bytes.
    assert.equal(encodeCanonicalJson(parseJson(testCase.input_json)), testCase.expected);
    const bytes = encodeCanonicalJsonBytes(parseJson(utf8.encode(testCase.input_json)));
    assert.deepEqual(bytes, utf8.encode(testCase.expected));
    // The value as given (keys in the file's non-canonical order).
    if ('input' in testCase) assert.equal(encodeCanonicalJson(testCase.input), testCase.expected);
    if (testCase.expected_sha256_hex !== undefined) {
      const digest = createHash('sha256').update(bytes).digest('hex');
      assert.equal(digest, testCase.expected_sha256_hex);
    }
  };
}

function rejects(run: () => unknown, what: string): void {
  assert.throws(run, (error: unknown) => CanonicalJsonError.isInstance(error), what);
}

function invalidCaseRun(testCase: InvalidCase): () => void {
  return () => {
    rejects(() => parseJson(testCase.input_json), `parseJson accepted (${testCase.reason})`);
    rejects(() => parseJson(utf8.encode(testCase.input_json)), 'parseJson accepted the bytes');
    // Where a lenient parser reads the text, the encoder must refuse the value it produced.
    let lenient: unknown;
    try {
      lenient = JSON.parse(testCase.input_json);
    } catch {
      return;
    }
    rejects(() => encodeCanonicalJson(lenient), 'encodeCanonicalJson accepted the value');
  };
}

export const canonicalJsonFormat: VectorFormat = {
  name: 'canonical-json',
  detect(file: VectorFile): boolean {
    const { cases, invalid } = file;
    return (
      Array.isArray(cases) &&
      cases.length > 0 &&
      cases.every(isEncodeCase) &&
      (invalid === undefined || (Array.isArray(invalid) && invalid.every(isInvalidCase)))
    );
  },
  cases(file: VectorFile): VectorCase[] {
    const out: VectorCase[] = [];
    (file.cases ?? []).forEach((testCase, index) => {
      if (!isEncodeCase(testCase)) throw new Error(`cases[${index}] is not a canonical-json case`);
      out.push({ name: `cases[${index}] ${testCase.name}`, run: encodeCaseRun(testCase) });
    });
    (file.invalid ?? []).forEach((testCase, index) => {
      if (!isInvalidCase(testCase)) throw new Error(`invalid[${index}] is not an invalid case`);
      out.push({ name: `invalid[${index}] ${testCase.name}`, run: invalidCaseRun(testCase) });
    });
    return out;
  },
};

export const formats: VectorFormat[] = [canonicalJsonFormat];
