import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { authCasesFormat } from './auth-vector-format.ts';

// Authorization-rule cases of ../shared/vectors/state-res.json, from Synapse's
// tests/test_event_auth.py and ruma-state-res's event_auth tests (room versions 10, 11, 12).
describe('state-res.json auth_cases', () => {
  for (const c of vectorCases('state-res.json', authCasesFormat)) it(c.name, c.run);
});
