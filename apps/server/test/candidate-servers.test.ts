/**
 * The loop joins, knocks and invite rejections run over a room's candidate resident servers
 * (services/federation/membership/candidate-servers.ts). What each answer means follows the
 * spec's make_join/make_leave errors (server-server-api "Joining Rooms", "Leaving Rooms"):
 * a 403 is the room refusing (its join rules, a ban, its ACL), the same at every resident
 * server, so the loop stops; a 404 is one server not knowing the room, a 5xx or an unreachable
 * server is that server's own failure, and a 400 such as `M_UNABLE_TO_GRANT_JOIN` asks for
 * another server: the next candidate is tried.
 */
import { MatrixError } from '@weft/transport';
import { describe, expect, it } from 'vitest';

import { silentLog } from '../src/log.ts';
import {
  candidateServers,
  throughCandidateServers,
} from '../src/services/federation/membership/candidate-servers.ts';

const ctx = { log: silentLog };
const request = { action: 'join', roomId: '!room:origin.test' } as const;

/** Runs the loop over `servers`, each answering as `answers` says; records who was asked. */
async function run(
  servers: readonly string[],
  answers: Readonly<Record<string, () => string>>,
): Promise<{ asked: string[]; outcome: Promise<string> }> {
  const asked: string[] = [];
  const outcome = throughCandidateServers(ctx, request, servers, async (server) => {
    asked.push(server);
    const answer = answers[server];
    if (answer === undefined) throw new Error(`no answer for ${server}`);
    return answer();
  });
  // Settle before the caller looks at `asked`.
  await outcome.catch(() => undefined);
  return { asked, outcome };
}

const forbidden = (): never => {
  throw new MatrixError(403, 'M_FORBIDDEN', 'You are not invited to this room');
};
const unknownRoom = (): never => {
  throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown room');
};
const badGateway = (): never => {
  throw new MatrixError(502, 'M_UNKNOWN', 'upstream failed');
};
const unreachable = (): never => {
  throw new TypeError('fetch failed');
};

describe('candidateServers', () => {
  it('lists the given servers, then the room ID’s own, once each and never this server', () => {
    expect(candidateServers('!r:c.test', ['a.test', 'me.test', 'a.test'], 'me.test')).toEqual([
      'a.test',
      'c.test',
    ]);
    // A v12 room ID names no server.
    expect(candidateServers('!opaque', ['a.test'], 'me.test')).toEqual(['a.test']);
  });
});

describe('throughCandidateServers', () => {
  it('answers 404 M_NOT_FOUND without asking anyone when there is no candidate', async () => {
    const { asked, outcome } = await run([], {});
    await expect(outcome).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    expect(asked).toEqual([]);
  });

  it('stops at a 403 M_FORBIDDEN: the room’s answer, which the next server would repeat', async () => {
    const { asked, outcome } = await run(['a.test', 'b.test'], {
      'a.test': forbidden,
      'b.test': () => 'joined via b',
    });
    await expect(outcome).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    expect(asked).toEqual(['a.test']);
  });

  it('tries the next server after a 404 (that server does not know the room)', async () => {
    const { asked, outcome } = await run(['a.test', 'b.test'], {
      'a.test': unknownRoom,
      'b.test': () => 'joined via b',
    });
    await expect(outcome).resolves.toBe('joined via b');
    expect(asked).toEqual(['a.test', 'b.test']);
  });

  it('tries the next server after a 502 or a network failure (that server’s own failure)', async () => {
    const { asked, outcome } = await run(['a.test', 'b.test', 'c.test'], {
      'a.test': badGateway,
      'b.test': unreachable,
      'c.test': () => 'joined via c',
    });
    await expect(outcome).resolves.toBe('joined via c');
    expect(asked).toEqual(['a.test', 'b.test', 'c.test']);
  });

  it('tries the next server after 400 M_UNABLE_TO_GRANT_JOIN (the spec asks for another)', async () => {
    const { asked, outcome } = await run(['a.test', 'b.test'], {
      'a.test': () => {
        throw new MatrixError(400, 'M_UNABLE_TO_GRANT_JOIN', 'ask someone else');
      },
      'b.test': () => 'joined via b',
    });
    await expect(outcome).resolves.toBe('joined via b');
    expect(asked).toEqual(['a.test', 'b.test']);
  });

  it('throws the last server’s Matrix error when every server failed', async () => {
    const { asked, outcome } = await run(['a.test', 'b.test'], {
      'a.test': unreachable,
      'b.test': unknownRoom,
    });
    await expect(outcome).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    expect(asked).toEqual(['a.test', 'b.test']);
  });

  it('answers 502 M_UNKNOWN when no server could be reached at all', async () => {
    const { asked, outcome } = await run(['a.test', 'b.test'], {
      'a.test': unreachable,
      'b.test': unreachable,
    });
    await expect(outcome).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN' });
    expect(asked).toEqual(['a.test', 'b.test']);
  });
});
