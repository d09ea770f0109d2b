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

  it('matches `?` as one code point and `*` anywhere, case-insensitively beyond ASCII', () => {
    const cases: [string, string, boolean, boolean][] = [
      ['?', 'é', false, true],
      ['?', '\u{1F600}', false, true],
      ['??', '\u{1F600}', false, false],
      ['a?c', 'abc', false, true],
      ['a?c', 'ac', false, false],
      ['*', '', false, true],
      ['*', '', true, true],
      ['*a', 'ba', false, true],
      ['*a', 'ab', false, false],
      ['a*', 'a', false, true],
      ['a**b', 'axxb', false, true],
      ['ÉCOLE*', 'école primaire', false, true],
      ['s', '\u017F', false, true],
      ['k', '\u212A', false, true],
      ['\u212A', 'k', false, true],
      ['*bob', 'hello bob', true, true],
      ['bob*', 'bob hello', true, true],
      ['a*b', 'a x b c', true, true],
      ['a*b', 'a x bc', true, false],
      ['a*b', 'xa b', true, false],
      ['a*b', 'xa b a yb a b', true, true],
      ['caf?', 'un café!', true, true],
    ];
    for (const [pattern, value, words, expected] of cases) {
      expect([pattern, value, globMatches(pattern, value, words)]).toEqual([
        pattern,
        value,
        expected,
      ]);
    }
  });

  it('judges word boundaries on the original characters, not their case folds', () => {
    // ſ (U+017F) and K (U+212A) fold to ASCII letters but are not word characters.
    expect(globMatches('bob', '\u017Fbob', true)).toBe(true);
    expect(globMatches('bob', 'bob\u212A', true)).toBe(true);
    expect(globMatches('bob', 'sbob', true)).toBe(false);
    expect(globMatches('b*b', '\u212Ab b\u017F', true)).toBe(true);
  });

  it('matches a pathological pattern against a long body without backtracking', () => {
    // A backtracking RegExp takes exponential time here (the event's write transaction hung).
    const body = 'a'.repeat(2_000);
    const pattern = '*a*a*a*a*a*a*a*a*a*a*a*!';
    expect(globMatches(pattern, body, true)).toBe(false);
    expect(globMatches(pattern, body, false)).toBe(false);
    expect(globMatches(pattern, `${body}!`, true)).toBe(true);
    expect(globMatches(pattern, `${body}!`, false)).toBe(true);
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
