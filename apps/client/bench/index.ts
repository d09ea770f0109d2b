/**
 * `npm run bench -w apps/client`: decrypt throughput of a 10,000-message encrypted history, the
 * work of a first sync (target ≥ 5,000 messages/s).
 *
 * - weft client: `RoomCrypto.decrypt` for each event — Megolm decryption (@weft/ratchet), the
 *   payload's room check, the sender-device check and the replay check in the SQLite store.
 * - libolm bare: libolm 3.2.13's (Debian libjs-olm, wasm) `InboundGroupSession.decrypt` alone,
 *   the floor any client pays.
 * - With `BENCH_HISTORY=N`: the whole path on a real Weft server in this process — alice sends
 *   N encrypted messages, then a new member's `reloadHistory` fetches (`/messages`, pages of
 *   100), decrypts and stores them (client and server CPU together).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { printComparison } from '@weft/bench';
import { ratchetMegolm } from '@weft/epoch';
import { MatrixHttpClient } from '@weft/transport';

import { LocalStore } from '../src/sdk/local-store.ts';
import { OlmMachine } from '../src/sdk/olm-machine.ts';
import { RoomCrypto } from '../src/sdk/room-crypto.ts';
import { SqliteRoomKeyStore } from '../src/sdk/room-key-store.ts';

const MESSAGES = Number(process.env['BENCH_MESSAGES'] ?? 10_000);
const ROOM = '!bench:example.org';
const SENDER = '@alice:example.org';
const SENDER_CURVE = 'c2VuZGVyLWN1cnZlLWtleS1mb3ItdGhlLWJlbmNobWFyaw';

const dir = mkdtempSync(join(tmpdir(), 'weft-client-bench-'));
const outbound = ratchetMegolm.createOutbound();
// The signed session-sharing key at index 0, before any message is encrypted.
const sessionKeyAtZero = outbound.sessionKey();

/** A new device's store holding only the room key: what a first sync starts from. */
function freshDevice(name: string) {
  const store = LocalStore.open(join(dir, `${name}.db`), 'bench passphrase');
  // The sender's device is known (as after /keys/query), so no request is made while decrypting.
  store.set('devices', {
    [SENDER]: [{ userId: SENDER, deviceId: 'ALICE', curve25519: SENDER_CURVE, ed25519: 'unused' }],
  });
  const http = new MatrixHttpClient({ baseUrl: 'http://127.0.0.1:9', retry: false });
  const machine = OlmMachine.load('@bob:example.org', 'BOB', store, http);
  const crypto = new RoomCrypto(machine, store);
  crypto.setPolicy(ROOM, { mode: 'epoch' });
  new SqliteRoomKeyStore(store).put({
    roomId: ROOM,
    sessionId: outbound.sessionId(),
    senderKey: SENDER_CURVE,
    senderClaimedEd25519: 'unused',
    session: ratchetMegolm.inboundFromSessionKey(sessionKeyAtZero),
    sharedHistory: false,
    singleUse: false,
    ratchetOnUse: false,
  });
  return { store, crypto };
}
const events = Array.from({ length: MESSAGES }, (_, i) => ({
  event_id: `$e${i}`,
  sender: SENDER,
  content: {
    algorithm: 'm.megolm.v1.aes-sha2',
    sender_key: SENDER_CURVE,
    device_id: 'ALICE',
    session_id: outbound.sessionId(),
    ciphertext: outbound.encrypt(
      JSON.stringify({
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: `message number ${i} of the history` },
        room_id: ROOM,
      }),
    ),
  },
}));

/** CPU seconds (user + system) of this process since `from` — wall time alone varies with load. */
const cpuSince = (from: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
};

/** One first sync's decryption on a fresh device: wall seconds and CPU seconds. */
async function firstSync(
  name: string,
  order: readonly (typeof events)[number][] = events,
): Promise<{ seconds: number; cpu: number }> {
  const { store, crypto } = freshDevice(name);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  for (const event of order) await crypto.decrypt(ROOM, event);
  store.flush();
  const result = { seconds: (performance.now() - start) / 1000, cpu: cpuSince(cpuStart) };
  store.close();
  return result;
}

// The first pass runs on cold code (as a client's first sync after start); the second on code
// the JIT has compiled (as a later sync, or a second room).
const cold = await firstSync('cold');
const { seconds: weftSeconds, cpu: weftCpu } = await firstSync('warm');
// As back-pagination delivers it (`/messages`, dir=b): pages of 100, newest page first.
const pages = Array.from({ length: Math.ceil(MESSAGES / 100) }, (_, p) =>
  events.slice(Math.max(0, MESSAGES - (p + 1) * 100), MESSAGES - p * 100),
);
const pagedNewestFirst = await firstSync(
  'paged-desc',
  pages.flatMap((page) => [...page].reverse()),
);
const pagedOldestFirst = await firstSync('paged-asc', pages.flat());
console.log(
  `pages of 100, newest page first: each page newest first ${(MESSAGES / pagedNewestFirst.cpu).toFixed(0)}, ` +
    `each page oldest first ${(MESSAGES / pagedOldestFirst.cpu).toFixed(0)} messages per CPU-second`,
);

const OLM_DIR = '/usr/share/nodejs/@matrix-org/olm';
const olm = createRequire(import.meta.url)(`${OLM_DIR}/olm.js`) as {
  init(options: { wasmBinary: Uint8Array }): Promise<void>;
  InboundGroupSession: new () => {
    create(key: string): void;
    decrypt(m: string): unknown;
    free(): void;
  };
};
await olm.init({ wasmBinary: readFileSync(`${OLM_DIR}/olm.wasm`) });
const inbound = new olm.InboundGroupSession();
inbound.create(sessionKeyAtZero);
const libStart = performance.now();
const libCpuStart = process.cpuUsage();
for (const event of events) inbound.decrypt(event.content.ciphertext);
const libSeconds = (performance.now() - libStart) / 1000;
const libCpu = cpuSince(libCpuStart);

const weft = { name: 'weft client', opsPerSecond: MESSAGES / weftSeconds, iterations: MESSAGES };
const weftCold = {
  name: 'weft client, cold',
  opsPerSecond: MESSAGES / cold.seconds,
  iterations: MESSAGES,
};
const lib = {
  name: 'libolm bare decrypt',
  opsPerSecond: MESSAGES / libSeconds,
  iterations: MESSAGES,
};
printComparison(`decrypt a ${MESSAGES}-message history (messages/s)`, weft, [lib, weftCold]);
console.log(
  `weft client: ${weft.opsPerSecond.toFixed(0)} messages/s (target ≥ 5,000); libolm bare: ${lib.opsPerSecond.toFixed(0)} messages/s`,
);
// Per CPU-second figures: what the work costs when the machine is shared (2 cores, many jobs).
console.log(
  `CPU time: weft client ${weftCpu.toFixed(2)} s = ${(MESSAGES / weftCpu).toFixed(0)} messages per CPU-second ` +
    `(cold: ${cold.cpu.toFixed(2)} s = ${(MESSAGES / cold.cpu).toFixed(0)}); ` +
    `libolm bare ${libCpu.toFixed(2)} s = ${(MESSAGES / libCpu).toFixed(0)} messages per CPU-second`,
);
const HISTORY = Number(process.env['BENCH_HISTORY'] ?? 0);
if (HISTORY > 0) {
  const { startTestServer } = await import('../../server/test/harness.ts');
  const { WeftClient } = await import('../src/index.ts');
  const server = await startTestServer();
  const member = async (name: string) => {
    const client = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, `${name}.db`),
      passphrase: 'bench passphrase',
    });
    await client.register(name, `password of ${name}`);
    return client;
  };
  const alice = await member('alice');
  const bob = await member('bob');
  const roomId = await alice.createRoom({ policy: 'shared', invite: [bob.userId] });
  await bob.syncOnce(0);
  await bob.join(roomId);
  await alice.syncOnce(0);
  for (let i = 0; i < HISTORY; i++) await alice.sendText(roomId, `message number ${i}`);
  await bob.syncOnce(0);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const loaded = await bob.reloadHistory(roomId, 100);
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuSince(cpuStart);
  console.log(
    `\nhistory of ${loaded} events through a Weft server (reloadHistory): ` +
      `${(loaded / seconds).toFixed(0)} events/s, ${(loaded / cpu).toFixed(0)} per CPU-second (client + server)`,
  );
  await alice.close();
  await bob.close();
  await server.stop();
}

await import('./web-first-screen.ts'); // the web UI's time to first screen (issue 7)
