/**
 * The vector formats `@weft/dag` understands, for `npm run vectors` and the test suite.
 */
import type { VectorFormat } from '@weft/test-vectors';

import { authCasesFormat } from './auth-vector-format.ts';
import { stateResScenariosFormat } from './state-res-vector-format.ts';

export const formats: VectorFormat[] = [authCasesFormat, stateResScenariosFormat];
