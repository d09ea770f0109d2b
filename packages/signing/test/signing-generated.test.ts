// Vectors generated with signedjson 1.1.1 (Synapse's signing library): sign and verify cases.
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { signedJson } from './vector-formats.ts';

describe('signing-generated.json', () => {
  for (const c of vectorCases('signing-generated.json', signedJson)) it(c.name, c.run);
});
