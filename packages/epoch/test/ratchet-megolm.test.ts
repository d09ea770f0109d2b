/** ratchetMegolm: the adapter from @weft/ratchet's Megolm to the engine's MegolmBackend. */

import { ratchetMegolm } from '@weft/epoch';
import { describe, expect, it } from 'vitest';

describe('ratchetMegolm', () => {
  it('round-trips a UTF-8 message through the session-sharing and export formats', () => {
    const outbound = ratchetMegolm.createOutbound();
    const inbound = ratchetMegolm.inboundFromSessionKey(outbound.sessionKey());
    const ciphertexts = ['première', '日本 😀', 'third'].map((p) => outbound.encrypt(p));
    expect(outbound.messageIndex()).toBe(3);
    expect(inbound.sessionId()).toBe(outbound.sessionId());
    expect(ciphertexts.map((c) => inbound.decrypt(c))).toEqual([
      { plaintext: 'première', messageIndex: 0 },
      { plaintext: '日本 😀', messageIndex: 1 },
      { plaintext: 'third', messageIndex: 2 },
    ]);
    const fromTwo = ratchetMegolm.inboundFromExport(inbound.exportAt(2));
    expect(fromTwo.firstKnownIndex()).toBe(2);
    expect(fromTwo.decrypt(ciphertexts[2] ?? '').plaintext).toBe('third');
    expect(() => fromTwo.decrypt(ciphertexts[1] ?? '')).toThrow();
    // An index before the first known one cannot be exported.
    expect(() => fromTwo.exportAt(1)).toThrow(RangeError);
  });

  it('gives every session a new ID and key', () => {
    const a = ratchetMegolm.createOutbound();
    const b = ratchetMegolm.createOutbound();
    expect(a.sessionId()).not.toBe(b.sessionId());
    expect(a.sessionKey()).not.toBe(b.sessionKey());
  });
});
