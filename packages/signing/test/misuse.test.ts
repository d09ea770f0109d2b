// Every public function fed wrong-typed arguments throws TypeError (not a SigningError, not a
// crash deeper inside), the way noble's `abytes` rejects misuse.
import { describe, expect, it } from 'vitest';

import * as signing from '../src/index.ts';

const key = signing.signingKeyFromSeed(new Uint8Array(32).fill(4), 'k');
const event = { type: 'm.room.message', sender: '@a:b', content: {} };

const calls: [string, () => unknown][] = [
  ['encodeBase64(string)', () => signing.encodeBase64('x' as never)],
  ['encodeBase64Url(number[])', () => signing.encodeBase64Url([1] as never)],
  ['decodeBase64(number)', () => signing.decodeBase64(1 as never)],
  ['decodeBase64Url(null)', () => signing.decodeBase64Url(null as never)],
  ['generateSigningKey(number)', () => signing.generateSigningKey(1 as never)],
  ['signingKeyFromSeed(number)', () => signing.signingKeyFromSeed(1 as never, 'a')],
  [
    'signingKeyFromSeed(seed, number)',
    () => signing.signingKeyFromSeed(new Uint8Array(32), 1 as never),
  ],
  ['parseKeyId(undefined)', () => signing.parseKeyId(undefined as never)],
  ['ed25519KeyId(object)', () => signing.ed25519KeyId({} as never)],
  ['decodePublicKey(number)', () => signing.decodePublicKey(1 as never)],
  ['signJson(array)', () => signing.signJson([] as never, 'e', key.keyId, key)],
  ['signJson(obj, number entity)', () => signing.signJson({}, 1 as never, key.keyId, key)],
  ['signJson(obj, e, number keyId)', () => signing.signJson({}, 'e', 1 as never, key)],
  ['signJson(obj, e, keyId, string key)', () => signing.signJson({}, 'e', key.keyId, 'k' as never)],
  ['verifyJson(null)', () => signing.verifyJson(null as never, 'e', key.keyId, key.publicKey)],
  ['verifyJson(obj, e, keyId, string)', () => signing.verifyJson({}, 'e', key.keyId, 'k' as never)],
  ['redactEvent(string)', () => signing.redactEvent('x' as never, '11')],
  ['redactEvent(event, number)', () => signing.redactEvent(event, 11 as never)],
  ['computeContentHash(Map)', () => signing.computeContentHash(new Map() as never)],
  ['computeReferenceHash(null)', () => signing.computeReferenceHash(null as never, '11')],
  ['computeEventId(array)', () => signing.computeEventId([] as never, '11')],
  ['computeRoomId(number)', () => signing.computeRoomId(1 as never, '12')],
  ['signEvent(null)', () => signing.signEvent(null as never, '11', 'e', key)],
  ['signEvent(event, v, number)', () => signing.signEvent(event, '11', 1 as never, key)],
  ['verifyEvent(event, v, string)', () => signing.verifyEvent(event, '11', 'x' as never)],
  ['verifyEvent(undefined)', () => signing.verifyEvent(undefined as never, '11', () => undefined)],
  [
    'buildServerKeys(no keys)',
    () => signing.buildServerKeys({ serverName: 'e', signingKeys: [], validUntilTs: 1 }),
  ],
  [
    'buildServerKeys(number name)',
    () => signing.buildServerKeys({ serverName: 1 as never, signingKeys: [key], validUntilTs: 1 }),
  ],
  ['verifyServerKeys(string)', () => signing.verifyServerKeys('x' as never)],
  ['SigningKey.sign(string)', () => key.sign('x' as never)],
];

describe('wrong-typed arguments', () => {
  it.each(calls)('%s throws TypeError', (_name, call) => {
    expect(call).toThrow(TypeError);
  });
});
