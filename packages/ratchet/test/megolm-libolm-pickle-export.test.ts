// Writing libolm 3.2 Megolm pickles (GroupSession.toLibolmPickle, outbound pickle v1;
// InboundGroupSession.toLibolmPickle, inbound pickle v2): python3-olm unpickles what Weft wrote
// and continues each session with Weft, and its own re-pickle is byte for byte what Weft wrote.
import { requirePythonModule, runPython } from '@weft/interop';
import { beforeAll, describe, expect, it } from 'vitest';

import { GroupSession, InboundGroupSession } from '../src/index.ts';

const PASSPHRASE = 'megolm pickle passphrase ✓';
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

beforeAll(() => requirePythonModule('olm', 'python3-olm'));

const PYTHON = `
import json, sys, olm
req = json.load(sys.stdin)
pw = req["passphrase"]
out = olm.OutboundGroupSession.from_pickle(req["outbound"].encode(), pw)
inb = olm.InboundGroupSession.from_pickle(req["inbound"].encode(), pw)
result = {
  "outbound_id": out.id, "outbound_index": out.message_index,
  "outbound_repickle": out.pickle(pw).decode(), "inbound_repickle": inb.pickle(pw).decode(),
  "inbound_id": inb.id, "first_known_index": inb.first_known_index,
  "decrypted": [list(inb.decrypt(m)) for m in req["messages"]],
  "sent": [out.encrypt(p) for p in req["plaintexts"]],
  "session_key_after": out.session_key,
}
json.dump(result, sys.stdout)
`;

describe('GroupSession / InboundGroupSession .toLibolmPickle', () => {
  it('libolm continues both sessions where Weft left them', () => {
    const outbound = GroupSession.create();
    // An inbound session that starts at index 3 and has read up to index 6 (its latest ratchet).
    for (let i = 0; i < 3; i++) outbound.encrypt(`early ${i}`);
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const sent = Array.from({ length: 6 }, (_, i) => outbound.encrypt(`weft ${i + 3}`));
    for (const message of sent.slice(0, 4)) inbound.decrypt(message);

    const libolm = runPython<{
      outbound_id: string;
      outbound_index: number;
      outbound_repickle: string;
      inbound_repickle: string;
      inbound_id: string;
      first_known_index: number;
      decrypted: [string, number][];
      sent: string[];
      session_key_after: string;
    }>(PYTHON, {
      passphrase: PASSPHRASE,
      outbound: outbound.toLibolmPickle(PASSPHRASE),
      inbound: inbound.toLibolmPickle(PASSPHRASE),
      messages: [sent[5], sent[0], sent[4]],
      plaintexts: ['libolm 9', 'libolm 10'],
    });
    expect(libolm.outbound_id).toBe(outbound.sessionId());
    expect(libolm.outbound_index).toBe(outbound.messageIndex());
    expect(libolm.inbound_id).toBe(inbound.sessionId());
    expect(libolm.first_known_index).toBe(3);
    expect(libolm.decrypted).toEqual([
      ['weft 8', 8],
      ['weft 3', 3],
      ['weft 7', 7],
    ]);
    // libolm's own pickles of the states it read are Weft's bytes (libolm's envelope is
    // deterministic), so nothing was lost or reinterpreted on the way.
    expect(libolm.outbound_repickle).toBe(outbound.toLibolmPickle(PASSPHRASE));
    expect(libolm.inbound_repickle).toBe(inbound.toLibolmPickle(PASSPHRASE));

    // What libolm sends from Weft's outbound state (same ratchet, same signing key) decrypts here.
    const fromLibolm = libolm.sent.map((m) => inbound.decrypt(m));
    expect(fromLibolm.map((d) => [text(d.plaintext), d.messageIndex])).toEqual([
      ['libolm 9', 9],
      ['libolm 10', 10],
    ]);
    expect(InboundGroupSession.fromSessionKey(libolm.session_key_after).firstKnownIndex()).toBe(11);
  });

  it('sessions imported from libolm pickles export again unchanged', () => {
    const outbound = GroupSession.create();
    outbound.encrypt('one');
    const first = outbound.toLibolmPickle(PASSPHRASE);
    const imported = GroupSession.fromLibolmPickle(first, PASSPHRASE);
    expect(imported.toLibolmPickle(PASSPHRASE)).toBe(first);
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const pickled = inbound.toLibolmPickle(new Uint8Array(32).fill(9));
    const back = InboundGroupSession.fromLibolmPickle(pickled, new Uint8Array(32).fill(9));
    expect(back.toLibolmPickle(new Uint8Array(32).fill(9))).toBe(pickled);
    expect(text(back.decrypt(imported.encrypt('two')).plaintext)).toBe('two');
  });
});
