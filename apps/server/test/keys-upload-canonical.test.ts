/**
 * POST /keys/upload refuses a device's Ed25519 key in any spelling other than canonical unpadded
 * standard Base64 (URL-safe alphabet, padding, non-zero trailing bits): the key's text is stored
 * and published as sent, so a second spelling would be a second key for clients that decode
 * strictly. (Verification of keys fetched from other servers stays lenient, as Synapse's is.)
 */
import { generateSigningKey, type JsonObject, type SigningKey, signJson } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { call, type TestUser } from './sync-helpers.ts';

/** Device keys whose `ed25519:<device>` entry is `spelling`, signed by `key`. */
function deviceKeys(user: TestUser, key: SigningKey, spelling: string): JsonObject {
  return signJson(
    {
      user_id: user.userId,
      device_id: user.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: {
        [`curve25519:${user.deviceId}`]: 'curve25519-public-key-of-the-device-abcdefghijk',
        [`ed25519:${user.deviceId}`]: spelling,
      },
    },
    user.userId,
    `ed25519:${user.deviceId}`,
    key,
  );
}

/** The other spellings of `canonical` that a lenient (Synapse-style) decoder accepts. */
function otherSpellings(canonical: string): Record<string, string> {
  const last = canonical.charCodeAt(canonical.length - 1);
  return {
    'URL-safe': canonical.replaceAll('+', '-').replaceAll('/', '_'),
    padded: `${canonical}=`,
    'URL-safe and padded': `${canonical.replaceAll('+', '-').replaceAll('/', '_')}=`,
    'trailing bits set': canonical.slice(0, -1) + String.fromCharCode(last + 1),
  };
}

describe('POST /keys/upload: device keys must be canonical Base64', () => {
  let server: TestServer;
  let alice: TestUser;
  let key: SigningKey;

  beforeAll(async () => {
    server = await startTestServer({});
    alice = await server.client.registerUser('alice');
    // A key whose Base64 has characters that differ between the alphabets.
    do key = generateSigningKey(alice.deviceId);
    while (!/[+/]/.test(key.publicKeyBase64));
  });
  afterAll(() => server.stop());

  it.each(Object.keys(otherSpellings('AAAA')))('refuses the %s spelling', async (name) => {
    const spelling = otherSpellings(key.publicKeyBase64)[name] as string;
    expect(spelling).not.toBe(key.publicKeyBase64);
    const answer = await call(
      server,
      alice,
      'POST',
      '/_matrix/client/v3/keys/upload',
      { device_keys: deviceKeys(alice, key, spelling) },
      400,
    );
    expect(answer['errcode']).toBe('M_INVALID_PARAM');
  });

  it('accepts the canonical spelling', async () => {
    await call(server, alice, 'POST', '/_matrix/client/v3/keys/upload', {
      device_keys: deviceKeys(alice, key, key.publicKeyBase64),
    });
  });
});
