// The streaming send_join body reader (membership/send-join-body.ts): for any split of the bytes
// it hands on the same PDUs and answer as parseJson of the whole body, and it refuses what
// parseJson refuses.
import { parseJson } from '@weft/canonical-json';
import { describe, expect, it } from 'vitest';

import {
  type AnswerList,
  SendJoinBodyReader,
} from '../src/services/federation/membership/send-join-body.ts';

const encoder = new TextEncoder();

function readInPieces(
  body: string,
  cuts: readonly number[],
): { answer: Record<string, unknown>; handed: Array<[AnswerList, unknown]> } {
  const bytes = encoder.encode(body);
  const handed: Array<[AnswerList, unknown]> = [];
  const reader = new SendJoinBodyReader((pdu, list) => handed.push([list, pdu]));
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    // A fresh buffer per piece, overwritten afterwards: the reader must keep its own copy.
    const piece = bytes.slice(at, cut);
    reader.push(piece);
    piece.fill(0x7b);
    at = cut;
  }
  return { answer: reader.end(), handed };
}

const pdu = (n: number) => ({
  type: 'm.room.member',
  state_key: `@u${n}:c.test`,
  content: { membership: 'join', displayname: `ünï "${n}" \\ [}{] 😀`, nested: [[{ a: [] }]] },
  auth_events: [`$a${n}`, '$b'],
  depth: n,
  signatures: { 'c.test': { 'ed25519:1': 'sig' } },
});

const VALID = [
  JSON.stringify({
    origin: 'a.test',
    event: pdu(0),
    state: [pdu(1), pdu(2)],
    auth_chain: [pdu(3)],
    members_omitted: false,
  }),
  ' \n{ "auth_chain" : [ ] ,"state":[ {"x":1} , {"y":"\\"]"}\t],\r"n":null,"t":true,"f":-1.0e2 }  \n',
  '{"state":[],"auth_chain":[]}',
  '{}',
  '{"__proto__":{"a":1},"st\\u0061te":[{"k":"v"}]}',
  '{"state":5,"auth_chain":"x"}',
];

describe('SendJoinBodyReader', () => {
  it('gives what parseJson gives for every split of the body into two and three pieces', () => {
    for (const body of VALID) {
      const expected = parseJson(body) as Record<string, unknown>;
      const expectedHanded: Array<[AnswerList, unknown]> = [];
      for (const list of ['state', 'auth_chain'] as const) {
        const pdus = expected[list];
        if (Array.isArray(pdus)) for (const p of pdus) expectedHanded.push([list, p]);
      }
      const length = encoder.encode(body).length;
      for (let cut = 0; cut <= length; cut++) {
        const cuts = cut + 7 < length ? [cut, cut + 7] : [cut];
        const { answer, handed } = readInPieces(body, cuts);
        expect(answer).toEqual(expected);
        expect(Object.getPrototypeOf(answer)).toBe(Object.prototype);
        // Handed on in body order; compared per list (the lists may come in either order).
        for (const list of ['state', 'auth_chain'] as const) {
          expect(handed.filter(([l]) => l === list)).toEqual(
            expectedHanded.filter(([l]) => l === list),
          );
        }
      }
    }
  });

  it('hands each PDU on as soon as its last byte is read', () => {
    const body = '{"state":[{"a":1},{"b":2}],"auth_chain":[]}';
    const handed: unknown[] = [];
    const reader = new SendJoinBodyReader((p) => handed.push(p));
    reader.push(encoder.encode(body.slice(0, body.indexOf('}') + 1)));
    expect(handed).toEqual([{ a: 1 }]);
    reader.push(encoder.encode(body.slice(body.indexOf('}') + 1)));
    expect(handed).toEqual([{ a: 1 }, { b: 2 }]);
    expect(reader.end()).toEqual({ state: [{ a: 1 }, { b: 2 }], auth_chain: [] });
  });

  it('refuses every body parseJson refuses or finds no object in, whole or in pieces', () => {
    const bad = [
      '',
      '   ',
      '[]',
      '"x"',
      '{',
      '{"state":[{"a":1}',
      '{"state":[{"a":1},]}',
      '{"state":[,{"a":1}]}',
      '{"state":[{"a":1} {"b":2}]}',
      '{"state":[{"a":1}]',
      '{"state":[{"a":1}]}}',
      '{"state":[{"a":1}]} x',
      '{"a":1,}',
      '{"a" 1}',
      '{"a":}',
      '{"a"::1}',
      '{"state":[:]}',
      '{"state":[1:2]}',
      '{"state":["a" "b"]}',
      '{a:1}',
      '{"a":1 "b":2}',
      '{"a":1,"a":2}',
      '{"state":[],"state":[]}',
      '{"state":[],"st\\u0061te":[]}',
      '{"state":[{"a":1,"a":2}]}',
      '{"state":[{"a":1.5}]}',
      '{"state":[{"a":9007199254740992}]}',
      '{"state":[{"a":NaN}]}',
      '{"state":[{"a":"\\ud800"}]}',
      '{"state":[{"a":tru}]}',
      '{"state":[{"a":1}}]}',
      '{"state":[12"x"]}',
      '{"n":01}',
      '\ufeff{}',
      `{"state":[${'['.repeat(511)}${']'.repeat(511)}]}`,
    ];
    for (const body of bad) {
      // What the client refuses now: a body parseJson refuses, or one that is not an object.
      expect(() => {
        const value = parseJson(body);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw value;
      }, body).toThrow();
      const length = encoder.encode(body).length;
      for (let cut = 0; cut <= length; cut += Math.max(1, Math.floor(length / 9))) {
        expect(() => readInPieces(body, [cut]), body).toThrow(/Malformed send_join answer/);
      }
    }
  });

  it('refuses bytes that are not UTF-8 inside a PDU', () => {
    const reader = new SendJoinBodyReader(() => undefined);
    reader.push(encoder.encode('{"state":[{"a":"'));
    reader.push(new Uint8Array([0xc3]));
    expect(() => reader.push(encoder.encode('"}]}'))).toThrow(/Malformed send_join answer/);
  });
});
