// libolm 3.2.13's recorded Olm and Megolm vectors (../shared/vectors/olm-megolm-generated.json)
// reproduced with src/primitives.ts forced onto each path: every HMAC, HKDF, SHA-256 and AES call
// through OpenSSL (`native`), then through @noble alone (`portable`), so each path carries the
// whole protocols byte for byte, not only the single calls of primitives.test.ts.
import { vectorCases } from '@weft/test-vectors';
import { afterEach, describe, it } from 'vitest';

import { type PrimitiveChoice, selectPrimitives } from '../src/primitives.ts';
import { formats } from './vector-formats.ts';

afterEach(() => {
  selectPrimitives('auto');
});

for (const choice of ['native', 'portable'] satisfies PrimitiveChoice[]) {
  describe(`olm-megolm-generated.json with ${choice} primitives`, () => {
    for (const format of formats) {
      for (const c of vectorCases('olm-megolm-generated.json', format)) {
        it(`${format.name}: ${c.name}`, async () => {
          selectPrimitives(choice);
          await c.run();
        });
      }
    }
  });
}
