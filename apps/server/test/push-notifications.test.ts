/**
 * Push-rule evaluation (client-server-api "Push Notifications"): events sent through the real
 * server are evaluated against each local member's push rules; `/sync`'s
 * `unread_notifications` counts rise with notifying events and reset with read receipts, and
 * `GET /notifications` lists them. Responses are checked against the spec's OpenAPI schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { globMatches, keyPath, memberCountMatches } from '../src/services/push/conditions.ts';
import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { pushNotificationsSuite } from './push-notifications-suite.ts';
import { resolvedMembershipSuite } from './push-resolved-membership-suite.ts';
import { call, createRoom, type Json, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('push condition helpers (spec "Conditions")', () => {
  it('splits keys on unescaped dots only', () => {
    expect(keyPath('content.m\\.relates_to.rel_type')).toEqual([
      'content',
      'm.relates_to',
      'rel_type',
    ]);
    expect(keyPath('content.a\\\\b')).toEqual(['content', 'a\\b']);
  });

  it('matches globs whole, or at word boundaries in bodies', () => {
    expect(globMatches('m.room.*', 'm.room.message', false)).toBe(true);
    expect(globMatches('m.room.*', 'xm.room.message', false)).toBe(false);
    expect(globMatches('cake*lie', 'The CAKE is a lie', true)).toBe(true);
    expect(globMatches('bob', 'hello bob!', true)).toBe(true);
    expect(globMatches('bob', 'hello bobby', true)).toBe(false);
    expect(globMatches('b?b', 'a b.b c', true)).toBe(true);
  });

  it('compares member counts with each operator', () => {
    expect(memberCountMatches('2', 2)).toBe(true);
    expect(memberCountMatches('==2', 3)).toBe(false);
    expect(memberCountMatches('<3', 2)).toBe(true);
    expect(memberCountMatches('>=3', 3)).toBe(true);
    expect(memberCountMatches('<=1', 2)).toBe(false);
    expect(memberCountMatches('>1', 2)).toBe(true);
    expect(memberCountMatches('=2', 2)).toBe(false);
  });
});

pushNotificationsSuite();
resolvedMembershipSuite();

describe('events received over federation', () => {
  let federation: TestFederation;

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test']);
  }, 60_000);
  afterAll(() => federation.close());

  it('count for the local users they notify', async () => {
    const a = federation.server('a.test');
    const b = federation.server('b.test');
    const alice = await a.client.registerUser('alice');
    const bob = await b.client.registerUser('bob');
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    await call(b, bob, 'POST', `${V3}/join/${enc(roomId)}?server_name=a.test`, {});
    await send(a, alice, roomId, { msgtype: 'm.text', body: 'over the wire' });
    await send(a, alice, roomId, {
      msgtype: 'm.text',
      body: 'you, bob',
      'm.mentions': { user_ids: [bob.userId] },
    });
    // Delivery is asynchronous: long-poll B until both messages arrived.
    let body = await sync(b, bob);
    for (let i = 0; i < 40; i++) {
      const counts = body['rooms']?.['join']?.[roomId]?.['unread_notifications'];
      if (counts?.['notification_count'] === 2) break;
      body = await sync(b, bob, { since: body['next_batch'], timeout: 500 });
    }
    const counts = (await sync(b, bob))['rooms']['join'][roomId]['unread_notifications'];
    expect(counts).toEqual({ notification_count: 2, highlight_count: 1 });
  });
});

let federationTxn = 0;

async function send(server: TestServer, user: TestUser, roomId: string, content: Json) {
  const path = `${V3}/rooms/${enc(roomId)}/send/m.room.message/f${++federationTxn}`;
  return (await call(server, user, 'PUT', path, content))['event_id'];
}
