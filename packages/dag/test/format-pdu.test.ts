/**
 * PDU format checks (server-server-api PDU schemas, client-server-api "Size limits",
 * appendices identifier grammar), on real signed PDUs from events-generated.json and on
 * hand-broken variants of a minimal PDU.
 */
import { encodeCanonicalJsonBytes } from '@weft/canonical-json';
import { loadVectorFile } from '@weft/test-vectors';
import { describe, expect, it } from 'vitest';

import {
  checkPduFormat,
  DagError,
  type DagErrorCode,
  MAX_PDU_BYTES,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  roomVersionRules,
} from '../src/index.ts';

function pdu(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: '$abc',
    room_id: '!room:a.test',
    sender: '@alice:a.test',
    type: 'm.room.message',
    content: { body: 'hi' },
    origin_server_ts: 1,
    depth: 3,
    prev_events: ['$p'],
    auth_events: ['$a'],
    hashes: { sha256: 'h' },
    signatures: { 'a.test': { 'ed25519:0': 's' } },
    ...extra,
  };
}

function without(key: string): Record<string, unknown> {
  const value = pdu();
  delete value[key];
  return value;
}

function codeOf(f: () => unknown): DagErrorCode | 'no error' {
  try {
    f();
  } catch (e) {
    if (DagError.isInstance(e)) return e.code;
    throw e;
  }
  return 'no error';
}

describe('checkPduFormat on events-generated.json signed PDUs (rooms v10, v11, v12)', () => {
  const file = loadVectorFile('events-generated.json');
  const cases = (file.cases ?? []) as Array<{
    name: string;
    room_version: string;
    expected: { signed: Record<string, unknown>; event_id: string };
  }>;
  it('has cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(c.name, () => {
      const rules = roomVersionRules(c.room_version);
      if (rules === undefined) throw new Error(`unsupported ${c.room_version}`);
      // No event ID given: v4+ PDUs carry none, so it is computed from the reference hash.
      const event = checkPduFormat(c.expected.signed, rules);
      expect(event.event_id).toBe(c.expected.event_id);
      expect(checkPduFormat(c.expected.signed, rules, { eventId: '$given' }).event_id).toBe(
        '$given',
      );
      expect(event.type).toBe(c.expected.signed['type']);
      expect(event.room_id).toBe(c.expected.signed['room_id']);
      if (event.type === 'm.room.redaction') expect(event.redacts).toMatch(/^\$/);
    });
  }
});

describe('checkPduFormat rejections', () => {
  it('returns the DagEvent view of a valid PDU', () => {
    expect(checkPduFormat(pdu({ state_key: '' }), ROOM_V11)).toEqual({
      event_id: '$abc',
      room_id: '!room:a.test',
      sender: '@alice:a.test',
      type: 'm.room.message',
      state_key: '',
      content: { body: 'hi' },
      origin_server_ts: 1,
      depth: 3,
      prev_events: ['$p'],
      auth_events: ['$a'],
    });
  });

  const missing = [
    'sender',
    'type',
    'content',
    'origin_server_ts',
    'depth',
    'prev_events',
    'auth_events',
    'room_id',
    'hashes',
    'signatures',
  ];
  for (const key of missing) {
    it(`missing ${key} → missing-key`, () => {
      let error: unknown;
      try {
        checkPduFormat(without(key), ROOM_V10);
      } catch (e) {
        error = e;
      }
      expect(DagError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'missing-key', path: key });
    });
  }

  const wrongTypes: Array<[string, unknown]> = [
    ['sender', 5],
    ['type', null],
    ['content', []],
    ['origin_server_ts', 1.5],
    ['depth', -1],
    ['depth', 2 ** 53],
    ['prev_events', '$p'],
    ['auth_events', [5]],
    ['room_id', {}],
    ['state_key', 0],
    ['hashes', { sha256: 1 }],
    ['signatures', { 'a.test': 'sig' }],
  ];
  for (const [key, value] of wrongTypes) {
    it(`${key} = ${JSON.stringify(value)} → wrong-type`, () => {
      expect(codeOf(() => checkPduFormat(pdu({ [key]: value }), ROOM_V11))).toBe('wrong-type');
    });
  }

  it('a non-object PDU → wrong-type', () => {
    expect(codeOf(() => checkPduFormat([], ROOM_V11))).toBe('wrong-type');
    expect(codeOf(() => checkPduFormat('x', ROOM_V11))).toBe('wrong-type');
  });

  it('more than 10 auth_events or 20 prev_events → wrong-type', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `$e${i}`);
    expect(codeOf(() => checkPduFormat(pdu({ auth_events: ids(10) }), ROOM_V11))).toBe('no error');
    expect(codeOf(() => checkPduFormat(pdu({ auth_events: ids(11) }), ROOM_V11))).toBe(
      'wrong-type',
    );
    expect(codeOf(() => checkPduFormat(pdu({ prev_events: ids(20) }), ROOM_V11))).toBe('no error');
    expect(codeOf(() => checkPduFormat(pdu({ prev_events: ids(21) }), ROOM_V11))).toBe(
      'wrong-type',
    );
  });

  it('identifiers over 255 bytes (counted in UTF-8) → invalid-identifier', () => {
    const bytes255 = `${'é'.repeat(127)}x`; // 2 × 127 + 1 = 255 bytes
    expect(codeOf(() => checkPduFormat(pdu({ state_key: bytes255 }), ROOM_V11))).toBe('no error');
    expect(codeOf(() => checkPduFormat(pdu({ state_key: `${bytes255}x` }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    expect(codeOf(() => checkPduFormat(pdu({ type: 'é'.repeat(128) }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    const longSender = `@${'a'.repeat(250)}:a.test`;
    expect(codeOf(() => checkPduFormat(pdu({ sender: longSender }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    const longId = `$${'a'.repeat(255)}`;
    expect(codeOf(() => checkPduFormat(pdu({ prev_events: [longId] }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
  });

  it('malformed identifiers → invalid-identifier', () => {
    expect(codeOf(() => checkPduFormat(pdu({ sender: 'alice' }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    expect(codeOf(() => checkPduFormat(pdu({ sender: '@alice:' }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    expect(codeOf(() => checkPduFormat(pdu({ room_id: '#alias:a.test' }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    expect(codeOf(() => checkPduFormat(pdu({ auth_events: ['abc'] }), ROOM_V11))).toBe(
      'invalid-identifier',
    );
    // Historical user IDs (appendices): any localpart without ':' or NUL is accepted.
    expect(codeOf(() => checkPduFormat(pdu({ sender: '@Ä lice:a.test' }), ROOM_V11))).toBe(
      'no error',
    );
  });

  it('v12 create events have no room_id; earlier versions require one', () => {
    const create = { ...without('room_id'), type: 'm.room.create', state_key: '' };
    expect(checkPduFormat(create, ROOM_V12).room_id).toBeUndefined();
    expect(codeOf(() => checkPduFormat(create, ROOM_V11))).toBe('missing-key');
    expect(codeOf(() => checkPduFormat(without('room_id'), ROOM_V12))).toBe('missing-key');
  });

  it('redacts is top-level in v10 and inside content from v11', () => {
    const v10 = pdu({ type: 'm.room.redaction', redacts: '$target', content: {} });
    expect(checkPduFormat(v10, ROOM_V10).redacts).toBe('$target');
    expect(checkPduFormat(v10, ROOM_V11).redacts).toBeUndefined();
    const v11 = pdu({ type: 'm.room.redaction', content: { redacts: '$target' } });
    expect(checkPduFormat(v11, ROOM_V11).redacts).toBe('$target');
    expect(codeOf(() => checkPduFormat(pdu({ ...v11, content: { redacts: 5 } }), ROOM_V12))).toBe(
      'wrong-type',
    );
  });

  it('hashes and signatures may be waived for unsigned local events', () => {
    const bare = without('hashes');
    delete bare['signatures'];
    expect(codeOf(() => checkPduFormat(bare, ROOM_V11))).toBe('missing-key');
    const options = { requireHashesAndSignatures: false };
    expect(codeOf(() => checkPduFormat(bare, ROOM_V11, options))).toBe('no error');
  });

  it('the event ID may be supplied by the caller', () => {
    expect(checkPduFormat(without('event_id'), ROOM_V11, { eventId: '$computed' }).event_id).toBe(
      '$computed',
    );
  });

  it('65,536 bytes of canonical JSON pass, one more byte fails (event-too-large)', () => {
    const base = pdu({ content: { body: '' } });
    const pad = MAX_PDU_BYTES - encodeCanonicalJsonBytes(base).length;
    const atLimit = pdu({ content: { body: 'x'.repeat(pad) } });
    expect(encodeCanonicalJsonBytes(atLimit).length).toBe(MAX_PDU_BYTES);
    expect(codeOf(() => checkPduFormat(atLimit, ROOM_V11))).toBe('no error');
    const over = pdu({ content: { body: 'x'.repeat(pad + 1) } });
    expect(codeOf(() => checkPduFormat(over, ROOM_V11))).toBe('event-too-large');
  });

  it("the caller's canonical size is what the size check counts (no second encoding)", () => {
    const small = pdu({ content: { body: 'x' } });
    const size = encodeCanonicalJsonBytes(small).length;
    const given = (canonicalBytes: number) => () =>
      checkPduFormat(small, ROOM_V11, { eventId: '$given', canonicalBytes });
    expect(codeOf(given(size))).toBe('no error');
    expect(codeOf(given(MAX_PDU_BYTES))).toBe('no error');
    expect(codeOf(given(MAX_PDU_BYTES + 1))).toBe('event-too-large');
  });

  it('values canonical JSON cannot encode → invalid-json with the cause', () => {
    let error: unknown;
    try {
      checkPduFormat(pdu({ content: { n: 0.5 } }), ROOM_V11);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'invalid-json' });
    expect((error as Error).cause).toBeDefined();
  });

  it('throws TypeError when rules are not a RoomVersionRules object', () => {
    expect(() => checkPduFormat(pdu(), {} as never)).toThrow(TypeError);
  });
});
