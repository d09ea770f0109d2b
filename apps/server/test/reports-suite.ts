/**
 * Reporting content (client-server-api "Reporting content") over real HTTP: reports of an event
 * (reporter joined, event in the room and visible; `reason` optional, a leftover `score`
 * ignored), of a room (reporter need not be in it) and of a user are stored with reporter,
 * target, reason and time; report_content.yaml's 404s for an unknown event, room or user and for
 * a reporter not joined; bad input refused with a 400. Run on SQLite (reports-api.test.ts) and
 * PostgreSQL (reports-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type RegisteredUser,
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { suiteRequests } from './suite-requests.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

type Json = Record<string, unknown>;

/** Registers the reporting tests against servers started with `options()`. */
export function reportsSuite(options: () => TestServerOptions = () => ({})): void {
  describe('reporting content', () => {
    let server: TestServer;
    let alice: RegisteredUser;
    let bob: RegisteredUser;
    let carol: RegisteredUser;
    let roomId: string;
    let otherRoomId: string;
    let eventId: string;
    let otherEventId: string;
    const started = Date.now();

    const req = (user: RegisteredUser, path: string, body: unknown) =>
      server.client.request<Json>('POST', `${V3}${path}`, { token: user.accessToken, body });

    const { v3: ok } = suiteRequests(() => server);

    async function expectError(
      user: RegisteredUser,
      path: string,
      body: unknown,
      status: number,
      errcode: string,
    ) {
      const response = await req(user, path, body);
      expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(response.body['errcode']).toBe(errcode);
    }

    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol] = await registerUsers(server, ['alice', 'bob', 'carol']);
      roomId = String(
        (await ok(alice, 'POST', '/createRoom', { preset: 'public_chat' }))['room_id'],
      );
      await ok(bob, 'POST', `/join/${enc(roomId)}`, {});
      eventId = String(
        (
          await ok(alice, 'PUT', `/rooms/${enc(roomId)}/send/m.room.message/t1`, {
            msgtype: 'm.text',
            body: 'rude',
          })
        )['event_id'],
      );
      otherRoomId = String((await ok(carol, 'POST', '/createRoom', {}))['room_id']);
      otherEventId = String(
        (
          await ok(carol, 'PUT', `/rooms/${enc(otherRoomId)}/send/m.room.message/t1`, {
            msgtype: 'm.text',
            body: 'elsewhere',
          })
        )['event_id'],
      );
    });
    afterAll(() => server.stop());

    it('stores reports of an event, a room and a user', async () => {
      const eventPath = `/rooms/${enc(roomId)}/report/${enc(eventId)}`;
      expect(await ok(bob, 'POST', eventPath, { reason: 'this makes me sad' })).toEqual({});
      expect(await ok(bob, 'POST', eventPath, {})).toEqual({});
      expect(await ok(bob, 'POST', eventPath, { reason: 'old client', score: -100 })).toEqual({});
      // carol is in neither room nor shares one with alice: room and user reports still work.
      expect(await ok(carol, 'POST', `/rooms/${enc(roomId)}/report`, { reason: '' })).toEqual({});
      expect(
        await ok(carol, 'POST', `/users/${enc(alice.userId)}/report`, { reason: 'spam' }),
      ).toEqual({});

      const reports = await server.services.reports.reports();
      expect(reports.map(({ received_ts: _, ...rest }) => rest)).toEqual([
        {
          reporter: bob.userId,
          room_id: roomId,
          event_id: eventId,
          target_user_id: null,
          reason: 'this makes me sad',
        },
        {
          reporter: bob.userId,
          room_id: roomId,
          event_id: eventId,
          target_user_id: null,
          reason: null,
        },
        {
          reporter: bob.userId,
          room_id: roomId,
          event_id: eventId,
          target_user_id: null,
          reason: 'old client',
        },
        {
          reporter: carol.userId,
          room_id: roomId,
          event_id: null,
          target_user_id: null,
          reason: '',
        },
        {
          reporter: carol.userId,
          room_id: null,
          event_id: null,
          target_user_id: alice.userId,
          reason: 'spam',
        },
      ]);
      for (const report of reports) {
        expect(Number(report.received_ts)).toBeGreaterThanOrEqual(started);
        expect(Number(report.received_ts)).toBeLessThanOrEqual(Date.now());
      }
    });

    it('answers 404 where report_content.yaml says so', async () => {
      // Not joined to the room of the event.
      await expectError(
        carol,
        `/rooms/${enc(roomId)}/report/${enc(eventId)}`,
        { reason: 'x' },
        404,
        'M_NOT_FOUND',
      );
      // Unknown event; an event of another room.
      await expectError(
        bob,
        `/rooms/${enc(roomId)}/report/${enc('$nope')}`,
        { reason: 'x' },
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        bob,
        `/rooms/${enc(roomId)}/report/${enc(otherEventId)}`,
        { reason: 'x' },
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        bob,
        `/rooms/${enc('!unknown:test.local')}/report`,
        { reason: 'x' },
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        bob,
        `/users/${enc('@nobody:test.local')}/report`,
        { reason: 'x' },
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        bob,
        `/users/${enc('@someone:elsewhere.example')}/report`,
        { reason: 'x' },
        404,
        'M_NOT_FOUND',
      );
    });

    it('refuses bad input with a 400', async () => {
      const eventPath = `/rooms/${enc(roomId)}/report/${enc(eventId)}`;
      await expectError(bob, eventPath, { reason: 5 }, 400, 'M_BAD_JSON');
      await expectError(bob, `/rooms/${enc(roomId)}/report`, {}, 400, 'M_BAD_JSON');
      await expectError(bob, `/users/${enc(alice.userId)}/report`, {}, 400, 'M_BAD_JSON');
      await expectError(
        bob,
        `/users/${enc('not-a-user')}/report`,
        { reason: 'x' },
        400,
        'M_INVALID_PARAM',
      );
      await expectError(
        bob,
        `/rooms/${enc('not-a-room')}/report`,
        { reason: 'x' },
        400,
        'M_INVALID_PARAM',
      );
    });
  });
}
