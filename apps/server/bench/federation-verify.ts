/**
 * The verification of a send_join answer alone, in-thread (`verifyRoomState`) against worker
 * threads (`verifyRoomStateParallel`), alternating in one process so machine load hits both
 * alike: WEFT_BENCH_JOIN_STATE (default 30,000) member joins signed by one server, plus the
 * room's first events as the auth chain. Prints wall and CPU time of each run: the process's,
 * and the main thread's (the rest is the workers', plus a little GC). On a machine whose cores
 * are free, the parallel wall time is about main + the busiest worker's share.
 *
 * Then the authorization walk's part after the last chunk (this thread alone), with and without
 * the walk run as chunks come (`AuthWalk`).
 *
 * Run: `node --conditions=weft-source bench/federation-verify.ts` from apps/server.
 */
import { computeEventId, generateSigningKey, signEvent } from '@weft/signing';

import { verifyRoomStateParallel } from '../src/services/federation/membership/verify-parallel.ts';
import {
  AuthWalk,
  acceptByAuthRules,
  verifyRoomState,
} from '../src/services/federation/membership/verify-room-state.ts';
import { rulesOf } from '../src/services/rooms/service.ts';

const N = Number(process.env['WEFT_BENCH_JOIN_STATE'] ?? 30_000);
const rules = rulesOf('10');
const key = generateSigningKey();
const server = 'c.test';
const room = '!room:c.test';
const creator = `@creator:${server}`;

function event(fields: Record<string, unknown>, depth: number, prev: string[], auth: string[]) {
  const pdu = signEvent(
    {
      ...fields,
      auth_events: auth,
      prev_events: prev,
      depth,
      origin: server,
      origin_server_ts: depth,
      room_id: room,
    },
    rules.id,
    server,
    key,
  );
  return { pdu, id: computeEventId(pdu, rules.id) };
}

const create = event(
  {
    type: 'm.room.create',
    state_key: '',
    sender: creator,
    content: { creator, room_version: '10' },
  },
  1,
  [],
  [],
);
const join = event(
  { type: 'm.room.member', state_key: creator, sender: creator, content: { membership: 'join' } },
  2,
  [create.id],
  [create.id],
);
const power = event(
  {
    type: 'm.room.power_levels',
    state_key: '',
    sender: creator,
    content: { users: { [creator]: 100 } },
  },
  3,
  [join.id],
  [create.id, join.id],
);
const rule = event(
  { type: 'm.room.join_rules', state_key: '', sender: creator, content: { join_rule: 'public' } },
  4,
  [power.id],
  [create.id, join.id, power.id],
);
const chain = [create.pdu, join.pdu, power.pdu, rule.pdu];
const state: unknown[] = [...chain];
let prev = rule.id;
for (let i = 0; i < N; i++) {
  const user = `@m${i}:${server}`;
  const member = event(
    { type: 'm.room.member', state_key: user, sender: user, content: { membership: 'join' } },
    5 + i,
    [prev],
    [create.id, power.id, rule.id],
  );
  state.push(member.pdu);
  prev = member.id;
}
// As received: parsed from JSON, as the transport hands them over.
const received = JSON.parse(JSON.stringify({ state, chain })) as {
  state: unknown[];
  chain: unknown[];
};
const lookup = () => key.publicKey;

// The verify workers are unreferenced (a server never waits on them to exit); with no server in
// this process, this timer keeps it alive while a worker still has chunks to answer.
const keepAlive = setInterval(() => {}, 60_000);
for (let round = 0; round < 3; round++) {
  for (const [name, run] of [
    ['in-thread', async () => verifyRoomState(received.state, received.chain, rules, lookup)],
    ['workers', () => verifyRoomStateParallel(received.state, received.chain, rules, lookup)],
  ] as const) {
    const cpu = process.cpuUsage();
    const mainCpu = process.threadCpuUsage();
    const start = performance.now();
    const result = await run();
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const usedMain = process.threadCpuUsage(mainCpu);
    const total = (used.user + used.system) / 1000;
    const main = (usedMain.user + usedMain.system) / 1000;
    console.log(
      `${name.padEnd(9)} ${result.state.size} state events verified: wall ${Math.round(wall)} ms, ` +
        `CPU ${Math.round(total)} ms (main thread ${Math.round(main)} ms, other threads ` +
        `${Math.round(total - main)} ms)`,
    );
  }
}
clearInterval(keepAlive);

// The authorization walk's part that runs after the last chunk, on the main thread alone (the
// workers idle): the whole walk when it waits for every event (`acceptByAuthRules` alone), or
// only what `AuthWalk` left undecided when it ran as the chunks' outcomes came (its own time
// is spent during the check, alongside the workers). CPU time of this thread, alternated.
const checked = verifyRoomState(received.state, received.chain, rules, lookup);
const stateIds = [...checked.state.values()];
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.threadCpuUsage(since);
  return (used.user + used.system) / 1000;
};
for (let round = 0; round < 3; round++) {
  let since = process.threadCpuUsage();
  const whole = acceptByAuthRules(checked.events, stateIds, 0, rules);
  const afterWhole = cpuMs(since);
  since = process.threadCpuUsage();
  const walk = new AuthWalk(rules);
  const events = [...checked.events.values()];
  for (let at = 0; at < events.length; at += 256) walk.add(events.slice(at, at + 256));
  const during = cpuMs(since);
  since = process.threadCpuUsage();
  const seeded = acceptByAuthRules(checked.events, stateIds, 0, rules, walk.verdicts());
  const afterSeeded = cpuMs(since);
  if (seeded.state.size !== whole.state.size) throw new Error('the walks disagree');
  console.log(
    `auth walk of ${whole.state.size} state events after the last chunk: whole ${Math.round(afterWhole)} ms CPU; ` +
      `with AuthWalk during the check ${Math.round(afterSeeded)} ms (+ ${Math.round(during)} ms spread over the chunks)`,
  );
}
