/** checkpointed-session.ts: the message-index parser and the checkpointed decryptor agree with
 * plain Megolm decryption in any order. */
import { ratchetMegolm } from '@weft/epoch';
import { describe, expect, it } from 'vitest';

import { checkpointed, megolmMessageIndex } from '../src/sdk/checkpointed-session.ts';

describe('checkpointed Megolm sessions', () => {
  it('parse the message index and decrypt like the plain session, newest first and oldest first', () => {
    const outbound = ratchetMegolm.createOutbound();
    const key = outbound.sessionKey();
    const messages = Array.from({ length: 200 }, (_, i) => outbound.encrypt(`message ${i}`));
    for (const [i, m] of messages.entries()) expect(megolmMessageIndex(m)).toBe(i);
    expect(megolmMessageIndex('not base64!')).toBeUndefined();
    // Long varints, both base64 alphabets, and a header that is not Megolm's.
    const header = (bytes: number[]) =>
      btoa(String.fromCharCode(...bytes, 9, 9, 9)).replace(/=+$/, '');
    expect(megolmMessageIndex(header([3, 8, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toBe(0xffffffff);
    expect(megolmMessageIndex(header([3, 8, 0xe0, 0xa7, 0x12]))).toBe(300_000);
    expect(
      megolmMessageIndex(header([3, 8, 0xfe, 0xff, 0x7f]).replace(/\+/g, '-').replace(/\//g, '_')),
    ).toBe(2_097_150);
    expect(megolmMessageIndex(header([4, 8, 1]))).toBeUndefined();
    expect(megolmMessageIndex(header([3, 8, 0x80, 0x80]).slice(0, 5))).toBeUndefined();
    const fast = checkpointed(ratchetMegolm.inboundFromSessionKey(key));
    const plain = ratchetMegolm.inboundFromSessionKey(key);
    for (const i of [199, 150, 64, 63, 0, 1, 100, 198]) {
      const message = messages[i] ?? '';
      expect(fast.decrypt(message)).toEqual(plain.decrypt(message));
      expect(fast.decrypt(message).plaintext).toBe(`message ${i}`);
    }
    // A key from a later index still cannot read earlier messages through its copies.
    const later = checkpointed(ratchetMegolm.inboundFromExport(plain.exportAt(100)));
    expect(later.decrypt(messages[150] ?? '').plaintext).toBe('message 150');
    expect(() => later.decrypt(messages[99] ?? '')).toThrow();
    expect(later.firstKnownIndex()).toBe(100);
  });
});
