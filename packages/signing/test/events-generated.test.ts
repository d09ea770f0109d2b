// Vectors for room versions 10, 11 and 12 (spec redaction and hashing rules, signed with
// canonicaljson/signedjson): content hash, redaction, signing, reference hash, event and room IDs.
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { eventHashes } from './vector-formats.ts';

describe('events-generated.json', () => {
  for (const c of vectorCases('events-generated.json', eventHashes)) it(c.name, c.run);
});
