/**
 * Rejecting an invite to a room this server is not in goes through the candidate servers'
 * shared loop (services/federation/membership/remote-leave.ts, candidate-servers.ts; spec
 * server-server-api "Leaving Rooms (Rejecting Invites)"): three real servers over TLS, a room
 * on c.test, alice of a.test inviting bob of b.test. The inviting server is asked first, then
 * the room ID's server; a 403 from the first (here the room's server ACL denying b.test) is the
 * room's answer, so the second is never asked and no local rejection hides the refusal.
 */
import { MatrixError } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rejectRemoteInvite } from '../src/services/federation/membership/remote-leave.ts';
import type { FederationDeps } from '../src/services/federation/membership/types.ts';
import {
  eventually,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call } from './sync-helpers.ts';

let federation: TestFederation;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test', 'c.test']);
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

async function membership(server: TestServer, roomId: string, userId: string): Promise<string> {
  return (await server.services.rooms.membership(roomId, userId))?.membership ?? 'none';
}

async function currentStateId(server: TestServer, roomId: string, type: string) {
  const row = await server.services.ctx.db.queryOne<{ event_id: string }>(
    "SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = $2 AND state_key = ''",
    [roomId, type],
  );
  return row?.event_id;
}

/** b.test's real federation requests, with the destination of each one recorded. */
function recordingDeps(b: TestServer, asked: string[]): FederationDeps {
  const deps = b.services.federationMembership.deps;
  return {
    ...deps,
    request: (destination, method, path, body) => {
      asked.push(`${destination} ${path.split('/').slice(0, 5).join('/')}`);
      return deps.request(destination, method, path, body);
    },
  };
}

describe('rejecting a remote invite (remote-leave.ts)', () => {
  it('stops at a 403 from the inviting server: the room’s server is not asked', async () => {
    const a = federation.server('a.test');
    const b = federation.server('b.test');
    const c = federation.server('c.test');
    const {
      roomId,
      users: [carol, alice],
    } = await joinedRoomAcross(federation, [
      ['c.test', 'carol'],
      ['a.test', 'alice'],
    ]);
    const bob = await b.client.registerUser('bob');
    await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, {
      user_id: bob.userId,
    });
    expect(await membership(b, roomId, bob.userId)).toBe('invite');

    // The room's ACL denies b.test: every resident server answers its make_leave 403.
    const { event_id: aclId } = await call(
      c,
      carol,
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.server_acl/`,
      { allow: ['*'], deny: ['b.test'] },
    );
    await eventually(
      async () => (await currentStateId(a, roomId, 'm.room.server_acl')) === aclId,
      'the ACL on a.test',
    );

    const asked: string[] = [];
    const rejection = rejectRemoteInvite(b.services.rooms, recordingDeps(b, asked), {
      roomId,
      userId: bob.userId,
    });
    await expect(rejection).rejects.toSatisfy(
      (error) => MatrixError.isInstance(error) && error.status === 403,
    );
    expect(asked).toEqual(['a.test /_matrix/federation/v1/make_leave']);
    // Refused, not rejected locally: the invite stands on b.test.
    expect(await membership(b, roomId, bob.userId)).toBe('invite');
  }, 60_000);
});
