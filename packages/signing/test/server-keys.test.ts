// The self-signed /_matrix/key/v2/server response: server-server API "Publishing Keys" and the
// Server Keys schema (server_name, verify_keys, old_verify_keys, valid_until_ts, signatures).
import { describe, expect, it } from 'vitest';

import {
  buildServerKeys,
  type JsonObject,
  SigningError,
  signingKeyFromSeed,
  signJson,
  verifyJson,
  verifyServerKeys,
} from '../src/index.ts';

const current = signingKeyFromSeed(new Uint8Array(32).fill(11), 'cur');
const second = signingKeyFromSeed(new Uint8Array(32).fill(12), 'cur2');
const old = signingKeyFromSeed(new Uint8Array(32).fill(13), 'old');

function errorOf(fn: () => unknown): SigningError | undefined {
  try {
    fn();
  } catch (error) {
    if (SigningError.isInstance(error)) return error;
    throw error;
  }
  return undefined;
}

const response = buildServerKeys({
  serverName: 'example.org',
  signingKeys: [current, second],
  oldVerifyKeys: { [old.keyId]: { key: old.publicKeyBase64, expiredTs: 1_600_000_000_000 } },
  validUntilTs: 1_700_000_000_000,
});

describe('buildServerKeys', () => {
  it('has the schema fields, signed by every current key', () => {
    expect(response).toMatchObject({
      server_name: 'example.org',
      verify_keys: {
        [current.keyId]: { key: current.publicKeyBase64 },
        [second.keyId]: { key: second.publicKeyBase64 },
      },
      old_verify_keys: { [old.keyId]: { key: old.publicKeyBase64, expired_ts: 1_600_000_000_000 } },
      valid_until_ts: 1_700_000_000_000,
    });
    for (const key of [current, second]) {
      expect(
        verifyJson(response as unknown as JsonObject, 'example.org', key.keyId, key.publicKey),
      ).toEqual({
        valid: true,
      });
    }
  });

  it('rejects bad input', () => {
    expect(() => buildServerKeys({ serverName: 'e', signingKeys: [], validUntilTs: 1 })).toThrow(
      TypeError,
    );
    expect(
      errorOf(() => buildServerKeys({ serverName: 'e', signingKeys: [current], validUntilTs: 1.5 }))
        ?.code,
    ).toBe('bad-json');
    expect(
      errorOf(() =>
        buildServerKeys({
          serverName: 'e',
          signingKeys: [current],
          validUntilTs: 1,
          oldVerifyKeys: { 'ed25519:bad-id': { key: old.publicKey, expiredTs: 1 } },
        }),
      )?.code,
    ).toBe('bad-key');
  });
});

describe('verifyServerKeys', () => {
  it('decodes a valid response', () => {
    const keys = verifyServerKeys(response as unknown as JsonObject, 'example.org');
    expect(keys.serverName).toBe('example.org');
    expect(keys.validUntilTs).toBe(1_700_000_000_000);
    expect(keys.verifyKeys.get(current.keyId)).toEqual(current.publicKey);
    expect(keys.verifyKeys.get(second.keyId)).toEqual(second.publicKey);
    expect(keys.oldVerifyKeys.get(old.keyId)).toEqual({
      key: old.publicKey,
      expiredTs: 1_600_000_000_000,
    });
  });

  it('ignores signatures by keys outside verify_keys (a notary co-signing)', () => {
    const notarised = signJson(response as unknown as JsonObject, 'notary.org', old.keyId, old);
    expect(verifyServerKeys(notarised).serverName).toBe('example.org');
  });

  it('rejects tampering, missing signatures, a wrong server and malformed fields', () => {
    const r = response as unknown as Record<string, unknown>;
    expect(errorOf(() => verifyServerKeys({ ...r, valid_until_ts: 1_800_000_000_000 }))?.code).toBe(
      'bad-signature',
    );
    expect(errorOf(() => verifyServerKeys({ ...r, signatures: {} }))?.code).toBe(
      'missing-signature',
    );
    expect(
      errorOf(() =>
        verifyServerKeys({ ...r, signatures: { 'example.org': { 'ed25519:unknown': 'AAAA' } } }),
      )?.code,
    ).toBe('missing-signature');
    expect(errorOf(() => verifyServerKeys(r, 'other.org'))).toMatchObject({
      code: 'bad-event',
      path: '$.server_name',
    });
    expect(errorOf(() => verifyServerKeys({ ...r, verify_keys: [] }))?.code).toBe('bad-json');
    expect(errorOf(() => verifyServerKeys({ ...r, server_name: 1 }))?.code).toBe('bad-json');
    expect(errorOf(() => verifyServerKeys({ ...r, valid_until_ts: '1' }))?.code).toBe('bad-json');
    expect(
      errorOf(() => verifyServerKeys({ ...r, verify_keys: { [current.keyId]: { key: 'Zm9v' } } })),
    ).toMatchObject({ code: 'bad-key', path: `$.verify_keys["${current.keyId}"].key` });
    expect(
      errorOf(() =>
        verifyServerKeys({ ...r, old_verify_keys: { [old.keyId]: { key: old.publicKeyBase64 } } }),
      ),
    ).toMatchObject({ code: 'bad-json' });
    expect(() => verifyServerKeys('x' as unknown as JsonObject)).toThrow(TypeError);
  });
});
