import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { stateResScenariosFormat } from './state-res-vector-format.ts';

// State-resolution scenarios of ../shared/vectors/state-res.json: Synapse's tests/state/test_v2.py
// and test_v21.py, ruma-state-res's tests/it/resolve fixtures (MSC4297), re-expressed as data.
describe('state-res.json scenarios', () => {
  for (const c of vectorCases('state-res.json', stateResScenariosFormat)) it(c.name, c.run);
});
