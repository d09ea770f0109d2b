// libolm 3.2.13 Olm vectors: ../shared/vectors/olm-megolm-generated.json (kind "olm"), produced
// through python3-olm with a recorded random stream (see ../shared/vectors/README.md).

import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { formats } from './vector-formats.ts';

const olm = formats.find((format) => format.name === 'olm-libolm');
if (olm === undefined) throw new Error('olm vector format missing');

describe('olm-megolm-generated.json (olm)', () => {
  for (const c of vectorCases('olm-megolm-generated.json', olm)) it(c.name, c.run);
});
