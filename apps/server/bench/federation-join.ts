/**
 * Joining a big room over federation (issue 6 target: a room of ~30,000 state events hosted on
 * the other server, every signature checked, joined in < 5 s on loopback).
 *
 * Two servers in this process over loopback with real TLS (test/federation-harness.ts's
 * throwaway CA). Server A hosts a public room whose state has WEFT_BENCH_JOIN_STATE events
 * (default 30,000): that many joins of users of a third server C (most of a big room's members
 * are remote; C only serves its keys), built here as real PDUs (auth events from the room's
 * state, signed with C's key) and written straight into A's rooms tables in one
 * transaction (`bulkJoin`) — the rooms service's one-event-at-a-time send path takes tens of
 * milliseconds per join in a room this size, too slow for a setup. A serves them from
 * `send_join` like any state. The setup is not timed. Then a user on B joins through `/join?server_name=a.test`; B's remote
 * join logs the time of each phase (send_join answered, keys fetched, state and auth chain
 * verified — every signature, hash and auth rule — and stored), printed here with the total
 * and this process's CPU time. The answer is streamed (A writes it as it reads the texts, B
 * checks PDUs as they arrive), so then the phases are: the answer until its last byte (the
 * check running meanwhile), the rest of the check, the store.
 *
 * Run: `WEFT_BENCH_JOIN_STATE=30000 node --conditions=weft-source bench/federation-join.ts`
 * from apps/server. Profiles: add `--cpu-prof --cpu-prof-dir=DIR`: one file for this thread (A,
 * B and C) and one per verify worker (they inherit the flags); the bench prints the join's
 * window in the profiles' clock, to read this thread's file over the join alone.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { authEventsSelection, stateKeyOf } from '@weft/dag';
import { computeEventId, signEvent } from '@weft/signing';

import { buildConfig } from '../src/config.ts';
import { createLog } from '../src/log.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import { nextStreamPosition } from '../src/services/core/stream.ts';
import { loadRoom } from '../src/services/rooms/room-store.ts';
import { rulesOf } from '../src/services/rooms/service.ts';
import {
  createTestCa,
  federationConfigFile,
  issueCert,
  type TestCa,
} from '../test/federation-harness.ts';
import { TestClient } from '../test/harness.ts';
import { freePort } from '../test/spawn.ts';

const STATE = Number(process.env['WEFT_BENCH_JOIN_STATE'] ?? 30_000);
/** Run with `--cpu-prof` (workers inherit it: each thread writes its own profile). */
const profiled = process.execArgv.some((flag) => flag.startsWith('--cpu-prof'));

/**
 * CPU seconds per thread of this process, by thread name (/proc/self/task/<tid>/comm): the main
 * thread (A, B and C), the verify workers, V8's helper threads (concurrent GC, compilation),
 * libuv's pool. `process.cpuUsage` sums them all.
 */
function cpuByThread(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let name: string;
    let stat: string;
    try {
      name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // utime and stime (fields 14–15, clock ticks of 1/100 s), as bench/proc.ts reads them.
    const fields = stat.split(') ')[1]?.split(' ') ?? [];
    const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
    byName.set(name, (byName.get(name) ?? 0) + seconds);
  }
  return byName;
}

function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, seconds]) => [name, seconds - (before.get(name) ?? 0)] as const)
    .filter(([, seconds]) => seconds >= 0.01)
    .sort((x, y) => y[1] - x[1])
    .map(([name, seconds]) => `${name} ${seconds.toFixed(2)}`)
    .join(', ');
}

/** Phase fields B's remote join logs ('remote join'). */
type JoinPhases = Record<string, unknown>;

async function launch(
  ca: TestCa,
  name: string,
  ports: { client: number; federation: number },
  hosts: Record<string, string>,
  onLog: (msg: string, fields: Record<string, unknown>) => void,
): Promise<RunningServer> {
  const config = buildConfig(
    federationConfigFile(ca, issueCert(ca, name), ports.federation, hosts),
    {
      dataDir: mkdtempSync(join(tmpdir(), `weft-bench-join-${name}-`)),
      listen: `127.0.0.1:${ports.client}`,
      serverName: name,
    },
  );
  const log = createLog('info', (line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record['level'] === 'warn' || record['level'] === 'error') process.stderr.write(line);
    onLog(String(record['msg']), record);
  });
  return startServer(config, { log });
}

/**
 * Joins `count` new local users (`@memberN:<server>`) to `roomId` on `server` in one write
 * transaction: a chain of signed join PDUs (prev event = the one before, auth events = the
 * room's power levels and join rules), stored with stream positions, one new state group
 * holding all of them, current state, memberships, the last join as the forward extremity.
 * Each join's own `state_group` is that final group (the bench serves current state only).
 */
async function bulkJoin(
  server: RunningServer,
  memberServer: RunningServer,
  roomId: string,
  count: number,
): Promise<void> {
  const { ctx, rooms } = server.services;
  const signer = memberServer.services.ctx;
  const state = await rooms.currentState(roomId);
  await ctx.db.transaction(async (tx) => {
    const room = await loadRoom(tx, roomId);
    if (room === undefined) throw new Error('no room');
    const rules = rulesOf(room.roomVersion);
    const [previous] = (
      await tx.query<{ event_id: string }>(
        'SELECT event_id FROM room_forward_extremities WHERE room_id = $1',
        [roomId],
      )
    ).map((row) => row.event_id);
    let prev = previous as string;
    let depth = room.maxDepth;
    const delta = new Map<string, string>();
    const joins: Array<{ eventId: string; userId: string; position: number }> = [];
    for (let i = 0; i < count; i++) {
      const userId = `@member${i}:${signer.config.serverName}`;
      const draft = {
        type: 'm.room.member',
        state_key: userId,
        sender: userId,
        content: { membership: 'join' },
      };
      const authEvents = authEventsSelection(draft, rules).flatMap(([type, stateKey]) => {
        const id = state.get(stateKeyOf(type, stateKey));
        return id === undefined ? [] : [id];
      });
      depth += 1;
      const pdu = signEvent(
        {
          ...draft,
          auth_events: authEvents,
          depth,
          origin: signer.config.serverName,
          origin_server_ts: ctx.now(),
          prev_events: [prev],
          room_id: roomId,
        },
        rules.id,
        signer.config.serverName,
        signer.signingKey,
      );
      const eventId = computeEventId(pdu, rules.id);
      const position = await nextStreamPosition(tx);
      await tx.execute(
        `INSERT INTO events (event_id, room_id, stream_position, depth, type, state_key, sender,
           origin_server_ts, pdu, unsigned, state_group, outlier, rejected, soft_failed)
         VALUES ($1, $2, $3, $4, 'm.room.member', $5, $5, $6, $7, NULL, NULL, 0, 0, 0)`,
        [
          eventId,
          roomId,
          position,
          depth,
          userId,
          pdu['origin_server_ts'] as number,
          JSON.stringify(pdu),
        ],
      );
      delta.set(stateKeyOf('m.room.member', userId), eventId);
      joins.push({ eventId, userId, position });
      prev = eventId;
    }
    const group = await rooms.states.create(tx, roomId, room.currentStateGroup, delta);
    await tx.execute(
      'UPDATE events SET state_group = $1 WHERE room_id = $2 AND state_group IS NULL',
      [group, roomId],
    );
    for (const { eventId, userId, position } of joins) {
      await tx.execute(
        `INSERT INTO room_current_state (room_id, type, state_key, event_id) VALUES ($1, 'm.room.member', $2, $3)`,
        [roomId, userId, eventId],
      );
      await tx.execute(
        `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position, forgotten)
         VALUES ($1, $2, 'join', $3, $4, 0)`,
        [roomId, userId, eventId, position],
      );
    }
    await tx.execute('DELETE FROM room_forward_extremities WHERE room_id = $1', [roomId]);
    await tx.execute('INSERT INTO room_forward_extremities (room_id, event_id) VALUES ($1, $2)', [
      roomId,
      prev,
    ]);
    await tx.execute(
      'UPDATE rooms SET current_state_group = $1, max_depth = $2 WHERE room_id = $3',
      [group, depth, roomId],
    );
  });
}

/** Runs the join benchmark; returns the total join time in ms. */
export async function runFederationJoinBench(stateSize = STATE): Promise<number> {
  const ca = createTestCa();
  const ports = {
    a: { client: await freePort(), federation: await freePort() },
    b: { client: await freePort(), federation: await freePort() },
    c: { client: await freePort(), federation: await freePort() },
  };
  const hosts = {
    'a.test': `127.0.0.1:${ports.a.federation}`,
    'b.test': `127.0.0.1:${ports.b.federation}`,
    'c.test': `127.0.0.1:${ports.c.federation}`,
  };
  let phases: JoinPhases | undefined;
  const a = await launch(ca, 'a.test', ports.a, hosts, () => {});
  const b = await launch(ca, 'b.test', ports.b, hosts, (msg, fields) => {
    if (msg === 'remote join') phases = fields;
  });
  // c.test only serves its keys: the members are its users, as most of a big room's are remote.
  const c = await launch(ca, 'c.test', ports.c, hosts, () => {});
  try {
    const alice = await new TestClient(a.url).registerUser('alice');
    const created = await new TestClient(a.url).request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: { preset: 'public_chat' },
    });
    const roomId = String(created.body['room_id']);

    // Setup (untimed): the room's state grows to `stateSize` events through A's rooms service.
    const setupStart = performance.now();
    const baseState = (await a.services.rooms.currentState(roomId)).size;
    await bulkJoin(a, c, roomId, stateSize - baseState);
    const stateEvents = (await a.services.rooms.currentState(roomId)).size;
    console.log(
      `setup: room on a.test with ${stateEvents} state events in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`,
    );

    const clientB = new TestClient(b.url);
    const bob = await clientB.registerUser('bob');
    const cpuBefore = process.cpuUsage();
    const threadCpuBefore = process.threadCpuUsage();
    const threadsBefore = cpuByThread();
    const monotonicStart = process.hrtime.bigint() / 1000n;
    const start = performance.now();
    const joined = await clientB.request(
      'POST',
      `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=a.test`,
      { token: bob.accessToken, body: {} },
    );
    const total = performance.now() - start;
    const monotonicEnd = process.hrtime.bigint() / 1000n;
    const threads = threadCpuDelta(threadsBefore, cpuByThread());
    const cpu = process.cpuUsage(cpuBefore);
    // This thread runs A, B and C (all but B's verify workers): on a quiet 2-core machine the
    // join cannot take less wall time than this thread's CPU time.
    const threadCpu = process.threadCpuUsage(threadCpuBefore);
    if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
    const stateOnB = (await b.services.rooms.currentState(roomId)).size;
    if (stateOnB < stateEvents) throw new Error(`B has ${stateOnB} of ${stateEvents} state events`);
    const p = phases ?? {};
    console.log(
      `federation join of a ${stateEvents}-state room: ${(total / 1000).toFixed(2)} s total ` +
        `(target < 5 s; CPU of both servers ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, ` +
        `of which the main thread ${((threadCpu.user + threadCpu.system) / 1e6).toFixed(2)} s)\n` +
        (p['streamed'] === true
          ? // Streamed: the check runs while A reads and sends; its CPU counts from send_join on.
            `  send_join answer streamed (A reads and sends, B checks meanwhile) ${p['send_join_ms']} ms; ` +
            `check after its last byte ${p['verify_ms']} ms (${p['state_events']} state + ` +
            `${p['auth_chain_events']} auth chain events; CPU since send_join ${p['verify_cpu_ms']} ms, ` +
            `this thread ${p['verify_thread_cpu_ms']} ms; `
          : `  send_join answered (A builds the response, transfer, parse) ${p['send_join_ms']} ms; ` +
            `keys ${p['keys_ms']} ms; verify ${p['state_events']} state + ${p['auth_chain_events']} auth chain ` +
            `events ${p['verify_ms']} ms (CPU ${p['verify_cpu_ms']} ms, this thread ${p['verify_thread_cpu_ms']} ms; `) +
        `${p['stored_early']} events stored meanwhile); ` +
        `store ${p['store_ms']} ms; rejected ${p['rejected']}`,
    );
    console.log(`  CPU s by thread: ${threads}`);
    if (profiled) {
      // A .cpuprofile's sample times are this clock's (µs): the main thread's profile covers the
      // setup too, so read it over this window (the workers' profiles cover the join alone).
      console.log(`profile window (monotonic µs): ${monotonicStart} ${monotonicEnd}`);
    }
    return total;
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
}

if (import.meta.main) await runFederationJoinBench();
