// Spec appendices, "Cryptographic Test Vectors" > "JSON Signing", plus the "Signing Details"
// example object (shape only): https://spec.matrix.org/v1.19/appendices/#json-signing
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { signedJson } from './vector-formats.ts';

describe('spec-signing.json', () => {
  for (const c of vectorCases('spec-signing.json', signedJson)) it(c.name, c.run);
});
