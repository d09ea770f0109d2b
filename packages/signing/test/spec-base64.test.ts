// Spec appendices, "Unpadded Base64" examples:
// https://spec.matrix.org/v1.19/appendices/#unpadded-base64
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { unpaddedBase64 } from './vector-formats.ts';

describe('spec-base64.json', () => {
  for (const c of vectorCases('spec-base64.json', unpaddedBase64)) it(c.name, c.run);
});
