/**
 * What a non-Weft Matrix client sees (README, "What a standard client sees"): it imports
 * `m.room_key` with plain libolm (`InboundGroupSession.create(session_key)`), ignores the
 * `org.weft.*` fields, and decrypts Weft's events as ordinary Megolm events in every mode — and in
 * a `forward-secret` room it keeps the keys Weft's policy would delete.
 */

import { type OlmEncryptedContent, type PolicyMode, ratchetMegolm } from '@weft/epoch';
import { beforeAll, describe, expect, it } from 'vitest';

import { fixture, ROOM } from './fixture.ts';
import { type LibOlm, loadLibOlm } from './libolm.ts';

let olm: LibOlm;
beforeAll(async () => {
  olm = await loadLibOlm();
});

describe.each(['shared', 'epoch', 'forward-secret'] as const)(
  'a libolm-only client in a %s room',
  (mode: PolicyMode) => {
    it('decrypts with the m.room_key it was sent, and keeps that key', async () => {
      const f = fixture(ratchetMegolm, { mode }, 1);
      const peer = f.peers[0];
      if (peer === undefined) throw new Error('fixture');
      const sent = await f.encryptor.encrypt(
        'm.room.message',
        { msgtype: 'm.text', body: 'hi' },
        f.room(),
      );
      const key = sent.toDevice[0];
      if (key === undefined) throw new Error('no key sent');
      const plaintext = peer.olm.decrypt(key.content as OlmEncryptedContent);
      expect(plaintext.type).toBe('m.room_key');
      // The standard client's import path: only the spec's fields.
      const inbound = new olm.InboundGroupSession();
      inbound.create(plaintext.content['session_key'] as string);
      expect(inbound.session_id()).toBe(sent.content.session_id);
      const first = inbound.decrypt(sent.content.ciphertext);
      expect(JSON.parse(first.plaintext)).toEqual({
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: 'hi' },
        room_id: ROOM,
      });
      // Nothing makes it forget: the key still decrypts the message, whatever Weft's policy says.
      expect(inbound.decrypt(sent.content.ciphertext).message_index).toBe(0);
      inbound.free();
    });
  },
);
