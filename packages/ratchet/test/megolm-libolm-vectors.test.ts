// libolm 3.2.13's Megolm sessions (../shared/vectors/olm-megolm-generated.json, `kind: "megolm"`,
// recorded through python3-olm with a deterministic random stream): Weft reproduces the session
// key and every ciphertext byte for byte and decrypts libolm's messages and exports.
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { megolmFormat } from './megolm-vector-format.ts';

describe('olm-megolm-generated.json (megolm)', () => {
  for (const c of vectorCases('olm-megolm-generated.json', megolmFormat)) it(c.name, c.run);
});
