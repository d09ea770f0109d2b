/**
 * Byte-for-byte agreement with Synapse's canonicaljson (Debian python3-canonicaljson,
 * `canonicaljson.encode_canonical_json`) on thousands of random values, sent to one Python
 * process as a batch. The seed is random per run and printed on failure so any disagreement
 * can be replayed.
 */

import { encodeCanonicalJsonBytes } from '@weft/canonical-json';
import { requirePythonModule, runPython } from '@weft/interop';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { jsonValue } from './arbitraries.ts';

const PROGRAM = `
import base64, json, sys
import canonicaljson
values = json.load(sys.stdin)
out = [base64.b64encode(canonicaljson.encode_canonical_json(v)).decode('ascii') for v in values]
json.dump(out, sys.stdout)
`;

const SAMPLES = 3000;

describe('interop: python3-canonicaljson', () => {
  it(`encodes ${SAMPLES} random values to the same bytes`, () => {
    requirePythonModule('canonicaljson', 'python3-canonicaljson');
    const seed = Math.floor(Math.random() * 2 ** 31);
    const values = fc.sample(jsonValue, { numRuns: SAMPLES, seed });
    // JSON.stringify is a faithful carrier: the values hold no -0, floats or lone surrogates.
    const expected = runPython<string[]>(PROGRAM, values);
    expect(expected).toHaveLength(SAMPLES);
    let mismatches = 0;
    let first = '';
    values.forEach((value, index) => {
      const ours = Buffer.from(encodeCanonicalJsonBytes(value)).toString('base64');
      if (ours !== expected[index]) {
        mismatches += 1;
        first ||= `sample ${index}: ours ${ours}, python ${expected[index]}`;
      }
    });
    expect(mismatches, `seed ${seed}; first mismatch: ${first}`).toBe(0);
  });

  it('agrees on the orders where UTF-16 and code point sorting differ', () => {
    requirePythonModule('canonicaljson', 'python3-canonicaljson');
    const value = { '\u{1F600}': 1, '\uFFFF': 2, '\uE000': 3, a: { '\u{10000}x': 0, '\uFB01': 1 } };
    const [python] = runPython<string[]>(PROGRAM, [value]);
    expect(Buffer.from(encodeCanonicalJsonBytes(value)).toString('base64')).toBe(python);
  });
});
