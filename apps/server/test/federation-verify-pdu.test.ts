/**
 * The per-PDU checks a joining server runs on a send_join answer and a resident server on a
 * send_join/send_knock/invite event (services/federation/membership/verify-pdu.ts), in the order
 * of spec server-server-api "Checks performed on receipt of a PDU": format, then signatures,
 * then hashes. A PDU that is malformed is dropped for its format before any signature work —
 * no key is looked up for it, even when it is badly signed as well.
 */
import { type RoomVersionRules, roomVersionRules } from '@weft/dag';
import { generateSigningKey, type JsonObject, type KeyLookup, signEvent } from '@weft/signing';
import { describe, expect, it } from 'vitest';

import { checkReceivedPdu } from '../src/services/federation/membership/verify-pdu.ts';

const VERSION = '11';
const rules = roomVersionRules(VERSION) as RoomVersionRules;
const origin = 'remote.test';
const key = generateSigningKey('k1');
/** Another key under the same key ID: what it signs does not verify with `key`. */
const impostor = generateSigningKey('k1');

/** A lookup that knows `origin`'s one key, and records every question it is asked. */
function recordingLookup(): { lookup: KeyLookup; asked: string[] } {
  const asked: string[] = [];
  const lookup: KeyLookup = (entity, keyId) => {
    asked.push(`${entity} ${keyId}`);
    return entity === origin && keyId === key.keyId ? key.publicKey : undefined;
  };
  return { lookup, asked };
}

function message(depth: unknown): Record<string, unknown> {
  return {
    type: 'm.room.message',
    room_id: '!room:remote.test',
    sender: `@alice:${origin}`,
    origin_server_ts: 1_700_000_000_000,
    depth,
    prev_events: ['$prev'],
    auth_events: ['$create', '$power', '$member'],
    content: { msgtype: 'm.text', body: 'hello' },
  };
}

/** `event` signed (and hashed) by `signer` as `origin`. */
function signedBy(event: Record<string, unknown>, signer = key): Record<string, unknown> {
  return signEvent(event as JsonObject, VERSION, origin, signer);
}

describe('checkReceivedPdu: the order of the checks on receipt', () => {
  it('accepts a well-formed PDU signed by its sender’s server, after looking up its key', () => {
    const { lookup, asked } = recordingLookup();
    const outcome = checkReceivedPdu(signedBy(message(5)), rules, lookup);
    expect('fault' in outcome, JSON.stringify(outcome)).toBe(false);
    expect(asked).toEqual([`${origin} ${key.keyId}`]);
  });

  it('refuses a well-formed PDU signed by another key as forbidden (signature check)', () => {
    const { lookup } = recordingLookup();
    const outcome = checkReceivedPdu(signedBy(message(5), impostor), rules, lookup);
    expect(outcome).toMatchObject({ fault: 'forbidden' });
  });

  it('refuses a malformed, badly signed PDU for its format, with no signature work', () => {
    const { lookup, asked } = recordingLookup();
    // Signed by the impostor, then given a depth that is not an integer.
    const pdu = { ...signedBy(message(5), impostor), depth: 'deep' };
    const outcome = checkReceivedPdu(pdu, rules, lookup);
    expect(outcome).toMatchObject({ fault: 'bad-json' });
    expect((outcome as { message: string }).message).toMatch(/depth/);
    expect(asked).toEqual([]);
  });

  it('checks the format first also for a field the encoding accepts (prev_events not a list)', () => {
    const { lookup, asked } = recordingLookup();
    const pdu = { ...signedBy(message(5), impostor), prev_events: 'not a list' };
    const outcome = checkReceivedPdu(pdu, rules, lookup);
    expect(outcome).toMatchObject({ fault: 'bad-json' });
    expect((outcome as { message: string }).message).toMatch(/prev_events/);
    expect(asked).toEqual([]);
  });
});
