/**
 * Spaces, room summaries and jump to date (spaces-suite.ts) on SQLite, and the index jump to
 * date reads (`events_by_room_ts`, migration 0110) serving its queries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FederationService } from '../src/services/federation/service.ts';
import { spaceHierarchy } from '../src/services/spaces/hierarchy.ts';
import { remoteBudget, remoteHierarchyFetcher } from '../src/services/spaces/remote.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { spacesSuite } from './spaces-suite.ts';

spacesSuite();

describe('a hierarchy with unknown children on unreachable servers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('asks at most 10 rooms of other servers, within a deadline, and answers the known part', async () => {
    const alice = await server.client.registerUser('alice');
    const call = async (method: string, path: string, body: unknown) => {
      const answer = await server.client.request<Record<string, unknown>>(method, path, {
        token: alice.accessToken,
        body,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body;
    };
    const V3 = '/_matrix/client/v3';
    const space = String(
      (await call('POST', `${V3}/createRoom`, { creation_content: { type: 'm.space' } }))[
        'room_id'
      ],
    );
    const known = String((await call('POST', `${V3}/createRoom`, {}))['room_id']);
    const unknown = Array.from({ length: 30 }, (_, i) => `!unknown${i}:nowhere${i}.test`);
    for (const child of [...unknown, known]) {
      await call(
        'PUT',
        `${V3}/rooms/${encodeURIComponent(space)}/state/m.space.child/${encodeURIComponent(child)}`,
        { via: [child.split(':')[1], 'also-nowhere.test'] },
      );
    }
    // Servers that refuse at once, or never answer (until the request's timeout).
    let asked = 0;
    const federation = (hang: boolean) =>
      ({
        client: {
          request: (
            _server: string,
            _m: string,
            _p: string,
            _b: unknown,
            o: { timeoutMs: number },
          ) => {
            asked += 1;
            return new Promise((_, reject) =>
              setTimeout(() => reject(new Error('unreachable')), hang ? o.timeoutMs : 0),
            );
          },
        },
      }) as unknown as FederationService;
    const walk = (hang: boolean, deadlineMs: number) =>
      spaceHierarchy(server.services.rooms, {
        roomId: space,
        userId: alice.userId,
        suggestedOnly: false,
        maxDepth: undefined,
        limit: 50,
        from: undefined,
        remote: remoteHierarchyFetcher(federation(hang), 'test.local', () => Date.now()),
        remoteBudget: remoteBudget(10, deadlineMs),
      });
    const ids = (answer: { rooms: { room_id: string }[] }) => answer.rooms.map((r) => r.room_id);
    // Refusing servers: 10 rooms asked (each of its 2 via servers), the rest skipped.
    const refused = await walk(false, 15_000);
    expect(ids(refused)).toEqual([space, known]);
    expect(asked).toBe(20);
    // Silent servers: nothing is asked after the deadline.
    asked = 0;
    const started = Date.now();
    const silent = await walk(true, 300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(ids(silent)).toEqual([space, known]);
    expect(asked).toBeLessThanOrEqual(2);
  });
});

describe('events_by_room_ts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('is partial and serves both directions of services/rooms/timestamp.ts', async () => {
    const db = server.services.ctx.db;
    const index = await db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_by_room_ts'",
    );
    expect(index?.sql).toMatch(
      /\(room_id, origin_server_ts, stream_position\)\s+WHERE\s+stream_position IS NOT NULL/,
    );
    const plan = async (sql: string) =>
      (await db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ['!r', 5, 3, 9]))
        .map((row) => row.detail)
        .join('\n');
    expect(
      await plan(`SELECT event_id, origin_server_ts, stream_position FROM events
        WHERE room_id = $1 AND stream_position IS NOT NULL AND stream_position <= $4
          AND origin_server_ts >= $2 AND (origin_server_ts > $2 OR stream_position > $3)
        ORDER BY origin_server_ts, stream_position LIMIT 50`),
    ).toContain('events_by_room_ts');
    expect(
      await plan(`SELECT event_id, origin_server_ts, stream_position FROM events
        WHERE room_id = $1 AND stream_position IS NOT NULL AND stream_position <= $4
          AND origin_server_ts <= $2 AND (origin_server_ts < $2 OR stream_position < $3)
        ORDER BY origin_server_ts DESC, stream_position DESC LIMIT 50`),
    ).toContain('events_by_room_ts');
  });
});
