/**
 * libolm 3.2.13's Megolm sessions, from ../shared/vectors/olm-megolm-generated.json (made with
 * python3-olm), imported and decrypted through RoomKeyReceiver; see vector-formats.ts.
 */
import { vectorCases } from '@weft/test-vectors';
import { describe, it } from 'vitest';

import { epochMegolmKeys } from './vector-formats.ts';

describe('olm-megolm-generated.json through RoomKeyReceiver', () => {
  for (const c of vectorCases('olm-megolm-generated.json', epochMegolmKeys)) it(c.name, c.run);
});
