// Spec appendices, "Cryptographic Test Vectors" > "Event Signing":
// https://spec.matrix.org/v1.19/appendices/#event-signing
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { eventSigning } from './vector-formats.ts';

describe('spec-event-signing.json', () => {
  for (const c of vectorCases('spec-event-signing.json', eventSigning)) it(c.name, c.run);
});
