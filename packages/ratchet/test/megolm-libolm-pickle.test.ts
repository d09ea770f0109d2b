// Reading libolm's Megolm pickles (GroupSession.fromLibolmPickle,
// InboundGroupSession.fromLibolmPickle, src/megolm/libolm-pickle.ts, openLibolmPickle in
// src/pickle.ts). Pickles are built here with OpenSSL in libolm's layout, so every malformed
// variant can be made; genuine libolm pickles are covered by the vectors and the live interop test.
import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
} from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { GroupSession, InboundGroupSession, RatchetError } from '../src/index.ts';
import { sealPickle } from '../src/pickle.ts';

const PASSPHRASE = 'pickle key';

function sealLibolm(plaintext: Buffer, key = PASSPHRASE): string {
  const okm = Buffer.from(hkdfSync('sha256', Buffer.from(key), Buffer.alloc(32), 'Pickle', 80));
  const cipher = createCipheriv('aes-256-cbc', okm.subarray(0, 32), okm.subarray(64, 80));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha256', okm.subarray(32, 64)).update(ciphertext).digest().subarray(0, 8);
  return Buffer.concat([ciphertext, mac]).toString('base64').replace(/=+$/, '');
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

function keyPair() {
  const seed = randomBytes(32);
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const publicKey = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
    .export({ format: 'der', type: 'spki' })
    .subarray(-32);
  const expanded = createHash('sha512').update(seed).digest();
  expanded[0] = (expanded[0] as number) & 248;
  expanded[31] = ((expanded[31] as number) & 63) | 64;
  return { seed, publicKey, expanded };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return RatchetError.isInstance(error) ? error.code : `not a RatchetError: ${String(error)}`;
  }
  return undefined;
}

describe('GroupSession.fromLibolmPickle', () => {
  const pair = keyPair();
  const ratchet = randomBytes(128);
  const body = (version = 1, publicKey = pair.publicKey) =>
    Buffer.concat([u32(version), ratchet, u32(7), publicKey, pair.expanded]);

  it('restores the session at its index, signing exactly like the seed-based twin', () => {
    const session = GroupSession.fromLibolmPickle(sealLibolm(body()), PASSPHRASE);
    expect(session.messageIndex()).toBe(7);
    expect(Buffer.from(session.sessionId(), 'base64')).toEqual(pair.publicKey);
    // The same state with the RFC 8032 seed instead of libolm's expanded key (OpenSSL signs it).
    const weftKey = new Uint8Array(32).fill(1);
    const twin = GroupSession.fromPickle(
      sealPickle(
        'weft.megolm.outbound',
        1,
        { ratchet: ratchet.toString('base64'), counter: 7, seed: pair.seed.toString('base64') },
        weftKey,
      ),
      weftKey,
    );
    expect(session.sessionKey()).toBe(twin.sessionKey());
    for (const text of ['a', 'b'.repeat(300)])
      expect(session.encrypt(text)).toBe(twin.encrypt(text));
    const again = GroupSession.fromLibolmPickle(
      sealLibolm(body()),
      new TextEncoder().encode(PASSPHRASE),
    );
    expect(again.messageIndex()).toBe(7);
  });

  it('survives a Weft pickle round trip in expanded form', () => {
    const session = GroupSession.fromLibolmPickle(sealLibolm(body()), PASSPHRASE);
    const key = new Uint8Array(32).fill(9);
    const restored = GroupSession.fromPickle(session.pickle(key), key);
    expect(restored.sessionKey()).toBe(session.sessionKey());
    expect(restored.encrypt('y')).toBe(session.encrypt('y'));
  });

  it('rejects wrong keys, versions, lengths and mismatched key pairs with typed errors', () => {
    expect(codeOf(() => GroupSession.fromLibolmPickle(sealLibolm(body()), 'other'))).toBe(
      'bad-pickle',
    );
    expect(codeOf(() => GroupSession.fromLibolmPickle(sealLibolm(body(2)), PASSPHRASE))).toBe(
      'unsupported-version',
    );
    expect(
      codeOf(() =>
        GroupSession.fromLibolmPickle(
          sealLibolm(Buffer.concat([body(), Buffer.of(0)])),
          PASSPHRASE,
        ),
      ),
    ).toBe('bad-pickle');
    expect(
      codeOf(() => GroupSession.fromLibolmPickle(sealLibolm(body().subarray(0, 200)), PASSPHRASE)),
    ).toBe('bad-pickle');
    expect(
      codeOf(() =>
        GroupSession.fromLibolmPickle(sealLibolm(body(1, keyPair().publicKey)), PASSPHRASE),
      ),
    ).toBe('bad-pickle');
    const text = sealLibolm(body());
    expect(codeOf(() => GroupSession.fromLibolmPickle(`${text.slice(0, -2)}AA`, PASSPHRASE))).toBe(
      'bad-pickle',
    );
    expect(codeOf(() => GroupSession.fromLibolmPickle('AAAA', PASSPHRASE))).toBe('bad-pickle');
    expect(codeOf(() => GroupSession.fromLibolmPickle('@@@@', PASSPHRASE))).toBe('bad-pickle');
  });
});

describe('InboundGroupSession.fromLibolmPickle', () => {
  const pair = keyPair();
  const initial = randomBytes(128);
  const inbound = (version: number, extra: Buffer[] = [], latestIndex = 3) =>
    Buffer.concat([
      u32(version),
      initial,
      u32(3),
      initial,
      u32(latestIndex),
      pair.publicKey,
      ...extra,
    ]);

  it('reads versions 1 and 2 with the verified flag as libolm does', () => {
    const v1 = InboundGroupSession.fromLibolmPickle(sealLibolm(inbound(1)), PASSPHRASE);
    expect(v1.toJSON()).toMatchObject({ firstKnownIndex: 3, verified: true });
    const v2 = InboundGroupSession.fromLibolmPickle(
      sealLibolm(inbound(2, [Buffer.of(0)])),
      PASSPHRASE,
    );
    expect(v2.toJSON()).toMatchObject({ firstKnownIndex: 3, verified: false });
    const exported = Buffer.from(v2.exportAt(3) as string, 'base64');
    expect(exported.subarray(5, 133)).toEqual(initial);
  });

  it('rejects unknown versions, bad booleans, leftovers and a latest ratchet before the initial', () => {
    const open = (bytes: Buffer) =>
      codeOf(() => InboundGroupSession.fromLibolmPickle(sealLibolm(bytes), PASSPHRASE));
    expect(open(inbound(3, [Buffer.of(1)]))).toBe('unsupported-version');
    expect(open(inbound(0))).toBe('unsupported-version');
    expect(open(inbound(2, [Buffer.of(2)]))).toBe('bad-pickle');
    expect(open(inbound(2, [Buffer.of(1, 0)]))).toBe('bad-pickle');
    expect(open(inbound(2))).toBe('bad-pickle');
    expect(open(inbound(2, [Buffer.of(1)], 2))).toBe('bad-pickle');
  });
});
