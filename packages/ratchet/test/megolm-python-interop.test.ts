// Live interop with libolm 3.2 (Debian's python3-olm via @weft/interop's runPython, one Python
// process per test doing its whole side of the exchange): Megolm sessions made by each side are
// decrypted by the other, and exports at index N agree byte for byte in both directions.
import { randomInt } from 'node:crypto';

import { requirePythonModule, runPython } from '@weft/interop';
import { beforeAll, describe, expect, it } from 'vitest';

import { GroupSession, InboundGroupSession, RatchetError } from '../src/index.ts';

const COUNT = 60;
const EXPORT_INDEX = 23;
const plaintexts = Array.from(
  { length: COUNT },
  (_, i) => `message ${i} — 日本 🌿 ${'x'.repeat(i * 7)}`,
);

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

beforeAll(() => requirePythonModule('olm', 'python3-olm'));

describe('Megolm interop with libolm (python3-olm)', () => {
  it('decrypts a libolm outbound session and matches its exports', () => {
    const libolm = runPython<{
      session_id: string;
      session_key: string;
      messages: string[];
      late_key: { index: number; key: string };
      export: string;
    }>(
      `
import json, sys, olm
req = json.load(sys.stdin)
out = olm.OutboundGroupSession()
key = out.session_key
messages = [out.encrypt(p) for p in req["plaintexts"]]
inbound = olm.InboundGroupSession(key)
json.dump({"session_id": out.id, "session_key": key, "messages": messages,
           "late_key": {"index": out.message_index, "key": out.session_key},
           "export": inbound.export_session(req["export_index"])}, sys.stdout)
`,
      { plaintexts, export_index: EXPORT_INDEX },
    );
    const inbound = InboundGroupSession.fromSessionKey(libolm.session_key);
    expect(inbound.sessionId()).toBe(libolm.session_id);
    const order = shuffled(libolm.messages.map((message, index) => ({ message, index })));
    for (const { message, index } of order) {
      const decrypted = inbound.decrypt(message);
      expect(decrypted.messageIndex).toBe(index);
      expect(new TextDecoder().decode(decrypted.plaintext)).toBe(plaintexts[index]);
    }
    expect(inbound.exportAt(EXPORT_INDEX)).toBe(libolm.export);

    const imported = InboundGroupSession.importSession(libolm.export);
    expect(imported.firstKnownIndex()).toBe(EXPORT_INDEX);
    for (const [index, message] of libolm.messages.entries()) {
      if (index < EXPORT_INDEX) {
        expect(() => imported.decrypt(message)).toThrow(
          expect.objectContaining({ code: 'unknown-message-index' }) as unknown as Error,
        );
      } else {
        expect(new TextDecoder().decode(imported.decrypt(message).plaintext)).toBe(
          plaintexts[index],
        );
      }
    }

    const late = InboundGroupSession.fromSessionKey(libolm.late_key.key);
    expect(late.firstKnownIndex()).toBe(COUNT);
    expect(libolm.late_key.index).toBe(COUNT);
    expect(
      RatchetError.isInstance(captured(() => late.decrypt(libolm.messages[0] as string))),
    ).toBe(true);
  });

  it('libolm decrypts a Weft outbound session and matches Weft exports', () => {
    const outbound = GroupSession.create();
    const sessionKey = outbound.sessionKey();
    const messages = plaintexts.map((p) => outbound.encrypt(p));
    const weftInbound = InboundGroupSession.fromSessionKey(sessionKey);
    const weftExport = weftInbound.exportAt(EXPORT_INDEX) as string;
    const order = shuffled(messages.map((message, index) => ({ message, index })));

    const libolm = runPython<{
      session_id: string;
      decrypted: [string, number][];
      export: string;
      first_known_index: number;
      imported: (string | [string, number])[];
      late_first_index: number;
    }>(
      `
import json, sys, olm
req = json.load(sys.stdin)
inbound = olm.InboundGroupSession(req["session_key"])
decrypted = [list(inbound.decrypt(m["message"])) for m in req["order"]]
imported = olm.InboundGroupSession.import_session(req["weft_export"])
results = []
for m in req["messages"]:
    try:
        results.append(list(imported.decrypt(m)))
    except olm.OlmGroupSessionError as e:
        results.append(str(e))
late = olm.InboundGroupSession(req["late_key"])
json.dump({"session_id": inbound.id, "decrypted": decrypted,
           "export": inbound.export_session(req["export_index"]),
           "first_known_index": imported.first_known_index, "imported": results,
           "late_first_index": late.first_known_index}, sys.stdout)
`,
      {
        session_key: sessionKey,
        order,
        messages,
        weft_export: weftExport,
        export_index: EXPORT_INDEX,
        late_key: outbound.sessionKey(),
      },
    );
    expect(libolm.session_id).toBe(outbound.sessionId());
    expect(libolm.decrypted).toEqual(order.map(({ index }) => [plaintexts[index], index]));
    expect(libolm.export).toBe(weftExport);
    expect(libolm.first_known_index).toBe(EXPORT_INDEX);
    for (const [index, result] of libolm.imported.entries()) {
      if (index < EXPORT_INDEX) expect(result).toBe('UNKNOWN_MESSAGE_INDEX');
      else expect(result).toEqual([plaintexts[index], index]);
    }
    expect(libolm.late_first_index).toBe(COUNT);
  });

  it("reads libolm's pickles of both session types and continues byte for byte", () => {
    const libolm = runPython<{
      outbound_pickle: string;
      inbound_pickle: string;
      session_id: string;
      messages: string[];
      next: string;
      next_key: string;
      export: string;
    }>(
      `
import json, sys, olm
req = json.load(sys.stdin)
out = olm.OutboundGroupSession()
inbound = olm.InboundGroupSession(out.session_key)
messages = [out.encrypt("early %d" % i) for i in range(5)]
inbound.decrypt(messages[3])
outbound_pickle = out.pickle(req["passphrase"]).decode()
inbound_pickle = inbound.pickle(req["passphrase"]).decode()
json.dump({"outbound_pickle": outbound_pickle, "inbound_pickle": inbound_pickle,
           "session_id": out.id, "messages": messages, "next": out.encrypt("next"),
           "next_key": out.session_key, "export": inbound.export_session(2)}, sys.stdout)
`,
      { passphrase: 'correct horse battery staple' },
    );
    const outbound = GroupSession.fromLibolmPickle(
      libolm.outbound_pickle,
      'correct horse battery staple',
    );
    expect(outbound.sessionId()).toBe(libolm.session_id);
    expect(outbound.messageIndex()).toBe(5);
    expect(outbound.encrypt('next')).toBe(libolm.next);
    expect(outbound.sessionKey()).toBe(libolm.next_key);

    const inbound = InboundGroupSession.fromLibolmPickle(
      libolm.inbound_pickle,
      'correct horse battery staple',
    );
    expect(inbound.toJSON()).toEqual({
      sessionId: libolm.session_id,
      firstKnownIndex: 0,
      verified: true,
    });
    expect(inbound.exportAt(2)).toBe(libolm.export);
    for (const [i, message] of libolm.messages.entries()) {
      expect(new TextDecoder().decode(inbound.decrypt(message).plaintext)).toBe(`early ${i}`);
    }
    expect(new TextDecoder().decode(inbound.decrypt(libolm.next).plaintext)).toBe('next');
    expect(() => InboundGroupSession.fromLibolmPickle(libolm.inbound_pickle, 'wrong')).toThrow(
      expect.objectContaining({ code: 'bad-pickle' }) as unknown as Error,
    );
    // Each pickle type is refused by the other reader.
    expect(() =>
      InboundGroupSession.fromLibolmPickle(libolm.outbound_pickle, 'correct horse battery staple'),
    ).toThrow(RatchetError);
  });
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
