/**
 * The user directory (client-server-api "User Directory", `POST /user_directory/search`) over
 * real HTTP: users are found by user ID and by display name, case-insensitively (Unicode case on
 * both backends), when they share a room with the searcher or are joined to a public or
 * world-readable room, and not otherwise;
 * `display_name` and `avatar_url` come from profiles; `limit` (default 10) and `limited`;
 * deactivated users are gone; `LIKE` wildcards in the term match only themselves; bad input is a
 * 400. Run on SQLite (user-directory-api.test.ts) and PostgreSQL (user-directory-postgres.test.ts).
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
type Result = { user_id: string; display_name?: string; avatar_url?: string };

/** Registers the user directory tests against servers started with `options()`. */
export function userDirectorySuite(options: () => TestServerOptions = () => ({})): void {
  describe('user directory search', () => {
    let server: TestServer;
    let alice: RegisteredUser;
    let bob: RegisteredUser;
    let carol: RegisteredUser;
    let dave: RegisteredUser;
    let erin: RegisteredUser;
    let gina: RegisteredUser;
    let hank: RegisteredUser;

    const { v3: ok } = suiteRequests(() => server);

    async function room(creator: RegisteredUser, body: Json, joiners: RegisteredUser[] = []) {
      const roomId = String((await ok(creator, 'POST', '/createRoom', body))['room_id']);
      for (const user of joiners) await ok(user, 'POST', `/join/${enc(roomId)}`, {});
      return roomId;
    }

    async function search(user: RegisteredUser, body: Json) {
      const answer = await ok(user, 'POST', '/user_directory/search', body);
      return answer as { results: Result[]; limited: boolean };
    }

    const ids = async (user: RegisteredUser, term: string) =>
      (await search(user, { search_term: term, limit: 100 })).results.map((r) => r.user_id);

    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol, dave, erin, gina, hank] = await registerUsers(server, [
        'alice',
        'bob',
        'carol',
        'dave',
        'erin',
        'gina',
        'hank',
      ]);
      // alice and bob share a private room (bob invited, then joined).
      await room(alice, { preset: 'private_chat', invite: [bob.userId] }, [bob]);
      // carol is in a public room alice is not in.
      await room(carol, { preset: 'public_chat' });
      // dave is alone in a private room; erin is in no room at all.
      await room(dave, { preset: 'private_chat' });
      // gina is in a private room whose history is world-readable.
      await room(gina, {
        preset: 'private_chat',
        initial_state: [
          {
            type: 'm.room.history_visibility',
            state_key: '',
            content: { history_visibility: 'world_readable' },
          },
        ],
      });
      // hank shares a room with alice, then deactivates.
      await room(alice, { preset: 'public_chat' }, [hank]);
      await ok(bob, 'PUT', `/profile/${enc(bob.userId)}/displayname`, {
        displayname: 'Robert Builder',
      });
      await ok(bob, 'PUT', `/profile/${enc(bob.userId)}/avatar_url`, {
        avatar_url: 'mxc://test.local/bobface',
      });
      await ok(carol, 'PUT', `/profile/${enc(carol.userId)}/displayname`, {
        displayname: 'Caroline',
      });
    });
    afterAll(() => server.stop());

    it('finds a user sharing a room by user ID, with display name and avatar', async () => {
      const { results, limited } = await search(alice, { search_term: 'bob' });
      expect(results).toEqual([
        {
          user_id: bob.userId,
          display_name: 'Robert Builder',
          avatar_url: 'mxc://test.local/bobface',
        },
      ]);
      expect(limited).toBe(false);
    });

    it('matches display names and user IDs case-insensitively', async () => {
      expect(await ids(alice, 'BUILDER')).toEqual([bob.userId]);
      expect(await ids(alice, 'robert b')).toEqual([bob.userId]);
      expect(await ids(alice, '@BoB:TEST')).toEqual([bob.userId]);
    });

    it('finds users in public and world-readable rooms, not users it cannot see', async () => {
      expect(await ids(alice, 'carol')).toEqual([carol.userId]);
      expect(await ids(alice, 'caroline')).toEqual([carol.userId]);
      expect(await ids(alice, 'gina')).toEqual([gina.userId]);
      expect(await ids(alice, 'dave')).toEqual([]);
      expect(await ids(alice, 'erin')).toEqual([]);
      // erin shares no room, but public-room members are visible to everyone.
      expect(await ids(erin, 'bob')).toEqual([]);
      expect(await ids(erin, 'carol')).toEqual([carol.userId]);
      // dave sees himself through his own room.
      expect(await ids(dave, 'dave')).toEqual([dave.userId]);
    });

    it('ranks prefix matches first and honours limit and limited', async () => {
      const all = await search(alice, { search_term: 'test.local', limit: 100 });
      expect(all.limited).toBe(false);
      expect(all.results.map((r) => r.user_id).sort()).toEqual(
        [alice, bob, carol, gina, hank].map((u) => u.userId).sort(),
      );
      const one = await search(alice, { search_term: 'test.local', limit: 1 });
      expect(one.results).toHaveLength(1);
      expect(one.limited).toBe(true);
      const none = await search(alice, { search_term: 'test.local', limit: 0 });
      expect(none).toEqual({ results: [], limited: true });
      // No limit: 10 at most; five match.
      expect((await search(alice, { search_term: 'test.local' })).results).toHaveLength(5);
      // "c" starts carol's ID and display name; it is only inside the others' server name.
      expect((await search(alice, { search_term: 'c', limit: 1 })).results[0]?.user_id).toBe(
        carol.userId,
      );
    });

    it('leaves deactivated users out', async () => {
      expect(await ids(alice, 'hank')).toEqual([hank.userId]);
      const challenge = await server.client.request('POST', `${V3}/account/deactivate`, {
        token: hank.accessToken,
        body: {},
      });
      expect(challenge.status).toBe(401);
      await ok(hank, 'POST', '/account/deactivate', {
        auth: { type: 'm.login.password', user: 'hank', password: 'correct horse battery staple' },
      });
      expect(await ids(alice, 'hank')).toEqual([]);
    });

    it('matches LIKE wildcards literally', async () => {
      expect(await ids(alice, '%')).toEqual([]);
      expect(await ids(alice, '_')).toEqual([]);
      expect(await ids(alice, '\\')).toEqual([]);
    });

    it('reads join rules holding "\\u0000" and sees a room become public or private at once', async () => {
      const [ivan] = await registerUsers(server, ['ivan']);
      if (ivan === undefined) throw new Error('no ivan');
      const roomId = await room(ivan, { preset: 'private_chat' });
      expect(await ids(erin, 'ivan')).toEqual([]);
      // PostgreSQL's ::json refuses \u0000 anywhere in a document: the PDU is never decoded in SQL.
      const rules = `/rooms/${enc(roomId)}/state/m.room.join_rules/`;
      await ok(ivan, 'PUT', rules, { join_rule: 'public', note: 'nul \u0000 here' });
      expect(await ids(erin, 'ivan')).toEqual([ivan.userId]);
      expect(await ids(erin, 'carol')).toEqual([carol.userId]);
      await ok(ivan, 'PUT', rules, { join_rule: 'invite', note: '\u0000' });
      expect(await ids(erin, 'ivan')).toEqual([]);
      expect(await ids(erin, 'carol')).toEqual([carol.userId]);
    });

    it('folds the case of non-ASCII display names', async () => {
      const [emile, dmitri] = await registerUsers(server, ['emile', 'dmitri']);
      if (emile === undefined || dmitri === undefined) throw new Error('no emile or dmitri');
      await room(alice, { preset: 'private_chat', invite: [emile.userId, dmitri.userId] }, [
        emile,
        dmitri,
      ]);
      await ok(emile, 'PUT', `/profile/${enc(emile.userId)}/displayname`, {
        displayname: 'Émile Zola',
      });
      await ok(dmitri, 'PUT', `/profile/${enc(dmitri.userId)}/displayname`, {
        displayname: 'ДМИТРИЙ петров',
      });
      expect(await ids(alice, 'émile')).toEqual([emile.userId]);
      expect(await ids(alice, 'ÉMILE ZOLA')).toEqual([emile.userId]);
      expect(await ids(alice, 'дмитрий')).toEqual([dmitri.userId]);
      expect(await ids(alice, 'ПЕТРОВ')).toEqual([dmitri.userId]);
      expect(await ids(alice, 'É%')).toEqual([]);
      expect(await ids(alice, 'É_ile')).toEqual([]);
    });

    it('refuses bad input with a 400', async () => {
      for (const body of [
        {},
        { search_term: 5 },
        { search_term: 'a', limit: -1 },
        { search_term: 'a', limit: 'ten' },
      ]) {
        const response = await server.client.request('POST', `${V3}/user_directory/search`, {
          token: alice.accessToken,
          body,
        });
        expect(response.status).toBe(400);
        expect(response.body['errcode']).toBe('M_BAD_JSON');
      }
      const noToken = await server.client.request('POST', `${V3}/user_directory/search`, {
        body: { search_term: 'a' },
      });
      expect(noToken.status).toBe(401);
    });
  });
}
