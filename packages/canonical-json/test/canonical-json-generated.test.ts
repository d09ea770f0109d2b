/**
 * Cases generated with canonicaljson 1.6.2 (Synapse's library; Debian python3-canonicaljson):
 * code point key order, escapes, integer bounds, and texts that MUST be rejected.
 * Source: ../shared/vectors/canonical-json-generated.json.
 */
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { canonicalJsonFormat } from './vector-formats.ts';

describe('canonicaljson 1.6.2 generated vectors', () => {
  for (const c of vectorCases('canonical-json-generated.json', canonicalJsonFormat)) {
    it(c.name, c.run);
  }
});
