/**
 * Every example of the spec's canonical JSON section.
 * Source: https://spec.matrix.org/v1.19/appendices/#canonical-json (content/appendices.md,
 * "Signing JSON" > "Canonical JSON" > "Examples"), as ../shared/vectors/spec-canonical-json.json.
 */
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { canonicalJsonFormat } from './vector-formats.ts';

describe('spec appendices: canonical JSON examples', () => {
  for (const c of vectorCases('spec-canonical-json.json', canonicalJsonFormat)) it(c.name, c.run);
});
