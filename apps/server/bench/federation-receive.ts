/**
 * The receiving side of federation alone, in one process: N signed messages from a peer server
 * (`m.test`, test/federation-peer.ts) handed to `EventHandler.handleBatch` 50 at a time, as the
 * PDUs of `/send` transactions are (format, signatures, hashes, auth, state, soft failure,
 * storing; no HTTP, no `/sync`). Prints this process's CPU time per PDU, the figure to compare
 * between versions of the receipt path: in the two-process throughput bench the servers and
 * other jobs share the cores, and CPU per event there moves ±30% from run to run.
 *
 * Run: `node --conditions=weft-source bench/federation-receive.ts [N] [rounds]` from apps/server.
 */
import { stateKeyOf } from '@weft/dag';

import { startFederationWithPeer } from '../test/federation-harness.ts';
import { startTestPeer } from '../test/federation-peer.ts';
import { createRoom } from '../test/sync-helpers.ts';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PER_TRANSACTION = 50;
const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';

const { federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer);
try {
  const a = federation.server('a.test');
  const { db } = a.services.ctx;
  const alice = await a.client.registerUser('alice');
  const roomId = await createRoom(a, alice, [], {
    preset: 'public_chat',
    room_version: ROOM_VERSION,
  });
  const stateId = async (type: string, key = ''): Promise<string> => {
    for (const [k, id] of await a.services.rooms.currentState(roomId)) {
      if (k === stateKeyOf(type, key)) return id;
    }
    throw new Error(`no ${type} ${key} in the room`);
  };
  const tip = async (): Promise<{ prev: string; depth: number }> => {
    const extremities = await db.query<{ event_id: string }>(
      'SELECT event_id FROM room_forward_extremities WHERE room_id = $1',
      [roomId],
    );
    const room = await db.queryOne<{ max_depth: number }>(
      'SELECT max_depth FROM rooms WHERE room_id = $1',
      [roomId],
    );
    if (extremities.length !== 1) throw new Error('expected one forward extremity');
    return { prev: extremities[0]?.event_id ?? '', depth: Number(room?.max_depth) };
  };
  const event = (
    type: string,
    content: Record<string, unknown>,
    auth: string[],
    prev: string,
    depth: number,
    stateKey?: string,
  ) =>
    peer.sign(
      {
        auth_events: auth,
        content,
        depth,
        origin_server_ts: Date.now(),
        prev_events: [prev],
        room_id: roomId,
        sender: MALLORY,
        type,
        ...(stateKey === undefined ? {} : { state_key: stateKey }),
      },
      ROOM_VERSION,
    );
  const handle = (pdus: readonly unknown[]) =>
    a.services.federation.events.handleBatch('m.test', pdus);

  const create = await stateId('m.room.create');
  const powerLevels = await stateId('m.room.power_levels');
  let at = await tip();
  const join = event(
    'm.room.member',
    { membership: 'join' },
    [create, powerLevels, await stateId('m.room.join_rules')],
    at.prev,
    at.depth + 1,
    MALLORY,
  );
  const [joined] = await handle([join.pdu]);
  if (joined?.status !== 'accepted') throw new Error(`join: ${JSON.stringify(joined)}`);

  for (let round = 1; round <= ROUNDS; round++) {
    // Built and signed before the clock starts: the sender's work is not measured here.
    at = await tip();
    const pdus: unknown[] = [];
    let prev = at.prev;
    for (let i = 0; i < N; i++) {
      const signed = event(
        'm.room.message',
        { msgtype: 'm.text', body: `message ${round}.${i}` },
        [create, powerLevels, join.eventId],
        prev,
        at.depth + 1 + i,
      );
      pdus.push(signed.pdu);
      prev = signed.eventId;
    }
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < N; i += PER_TRANSACTION) {
      const outcomes = await handle(pdus.slice(i, i + PER_TRANSACTION));
      const bad = outcomes.find((outcome) => outcome.status !== 'accepted');
      if (bad !== undefined) throw new Error(`PDU not accepted: ${JSON.stringify(bad)}`);
    }
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    console.log(
      `round ${round}: ${N} PDUs in ${N / PER_TRANSACTION} batches, ${(cpuMs / N).toFixed(3)} ms CPU ` +
        `per PDU (system ${(used.system / 1000 / N).toFixed(3)}), wall ${(wall / 1000).toFixed(2)} s`,
    );
  }
} finally {
  await federation.close();
  await peer.down();
}
