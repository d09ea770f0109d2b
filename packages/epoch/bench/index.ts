/**
 * `npm run bench -w packages/epoch`: the cost of one rekey — a new Megolm session whose key is
 * Olm-encrypted to every member device over Olm sessions that already exist — for rooms of 10,
 * 100 and 1,000 devices, so the O(n) growth is visible.
 *
 * - weft: `RoomEncryptor.rekey` with @weft/ratchet's Megolm and Olm (the whole engine: recipient
 *   computation, Matrix payloads, JSON, Olm, bookkeeping).
 * - weft engine + libolm: the same engine over libolm 3.2.13 (Debian libjs-olm, wasm) sessions,
 *   to separate the engine's own cost from the ciphers'.
 * - libolm bare loop: new libolm OutboundGroupSession + one libolm Olm encrypt per device of a
 *   same-size JSON payload, with no policy logic: the floor a rekey cannot go under.
 */
import { measureAsync, printComparison } from '@weft/bench';
import { Account, type Session } from '@weft/ratchet';

import {
  type DeviceInfo,
  type OlmEncryptor,
  type OwnDevice,
  RoomEncryptor,
  type RoomKeyStore,
  type RoomSnapshot,
  ratchetMegolm,
  type StoredRoomKey,
} from '../src/index.ts';
import { type LibOlm, libolmMegolm, loadLibOlm } from '../test/libolm.ts';

const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 1500);
const ROOM = '!bench:weft.test';
const SIZES = [10, 100, 1000];

/** A store that keeps only the latest key: the bench measures sharing, not storage growth. */
class LatestKeyStore implements RoomKeyStore {
  #key: StoredRoomKey | undefined;
  get(_roomId: string, sessionId: string) {
    return this.#key?.sessionId === sessionId ? this.#key : undefined;
  }
  put(key: StoredRoomKey) {
    this.#key = key;
  }
  delete() {
    this.#key = undefined;
  }
  list() {
    return this.#key === undefined ? [] : [this.#key];
  }
}

interface Encryptors {
  weft: OlmEncryptor;
  libolm: OlmEncryptor;
  libolmSessions: Array<InstanceType<LibOlm['Session']>>;
}

/** Sender identity and `n` recipient devices, with Olm sessions to each set up in both libraries. */
function setUp(
  olm: LibOlm,
  n: number,
): { own: OwnDevice; room: RoomSnapshot; encryptors: Encryptors } {
  const sender = Account.create();
  const senderKeys = sender.identityKeys();
  const own: OwnDevice = { userId: '@alice:weft.test', deviceId: 'ALICE', ...senderKeys };
  const libSender = new olm.Account();
  libSender.create();
  const devices: DeviceInfo[] = [];
  const weftSessions = new Map<string, Session>();
  const libSessions = new Map<string, InstanceType<LibOlm['Session']>>();
  for (let i = 0; i < n; i++) {
    // Recipients are libolm accounts (fast to create); both libraries talk Olm to them.
    const account = new olm.Account();
    account.create();
    account.generate_one_time_keys(2);
    const keys = JSON.parse(account.identity_keys()) as { curve25519: string; ed25519: string };
    const [otk1, otk2] = Object.values(
      (JSON.parse(account.one_time_keys()) as { curve25519: Record<string, string> }).curve25519,
    );
    if (otk1 === undefined || otk2 === undefined) throw new Error('no one-time keys');
    const device: DeviceInfo = { userId: `@user${i % 50}:weft.test`, deviceId: `D${i}`, ...keys };
    devices.push(device);
    weftSessions.set(keys.curve25519, sender.createOutboundSession(keys.curve25519, otk1));
    const lib = new olm.Session();
    lib.create_outbound(libSender, keys.curve25519, otk2);
    libSessions.set(keys.curve25519, lib);
    account.free();
  }
  const members = [
    { userId: own.userId, membership: 'join' as const },
    ...Array.from({ length: 50 }, (_, i) => ({
      userId: `@user${i}:weft.test`,
      membership: 'join' as const,
    })),
  ];
  const wrap = (recipient: string, message: { type: number; body: string }) => ({
    algorithm: 'm.olm.v1.curve25519-aes-sha2' as const,
    sender_key: own.curve25519,
    ciphertext: { [recipient]: message },
  });
  return {
    own,
    room: { members, devices: [{ ...own }, ...devices] },
    encryptors: {
      weft: {
        encryptForDevice(device, payload) {
          const session = weftSessions.get(device.curve25519);
          return session && wrap(device.curve25519, session.encrypt(JSON.stringify(payload)));
        },
      },
      libolm: {
        encryptForDevice(device, payload) {
          const session = libSessions.get(device.curve25519);
          return session && wrap(device.curve25519, session.encrypt(JSON.stringify(payload)));
        },
      },
      libolmSessions: [...libSessions.values()],
    },
  };
}

function cpuMillis(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const olm = await loadLibOlm();
const libMegolm = libolmMegolm(olm);
const rows: string[] = [];

for (const n of SIZES) {
  const { own, room, encryptors } = setUp(olm, n);
  const weft = new RoomEncryptor({
    roomId: ROOM,
    own,
    policy: { mode: 'epoch' },
    megolm: ratchetMegolm,
    olm: encryptors.weft,
    store: new LatestKeyStore(),
  });
  const hybrid = new RoomEncryptor({
    roomId: ROOM,
    own,
    policy: { mode: 'epoch' },
    megolm: libMegolm,
    olm: encryptors.libolm,
    store: new LatestKeyStore(),
  });
  const probe = await weft.rekey(room);
  const payloadLength = JSON.stringify({
    type: 'm.room_key',
    content: {
      session_key: ratchetMegolm.createOutbound().sessionKey(),
      room_id: ROOM,
      session_id: probe.report?.sessionId,
      algorithm: 'm.megolm.v1.aes-sha2',
      shared_history: false,
    },
    sender: own.userId,
    recipient: '@user0:weft.test',
    recipient_keys: { ed25519: own.ed25519 },
    keys: { ed25519: own.ed25519 },
  }).length;
  const payload = 'x'.repeat(payloadLength);
  const millis = n >= 1000 ? MILLIS * 2 : MILLIS;

  const cpuBefore = cpuMillis();
  const subject = await measureAsync(`weft (${n} devices)`, () => weft.rekey(room), millis);
  const cpuPerRekey = (cpuMillis() - cpuBefore) / subject.iterations;
  const engineOverLibolm = await measureAsync(
    'weft engine + libolm',
    () => hybrid.rekey(room),
    millis,
  );
  const bare = await measureAsync(
    'libolm bare loop',
    async () => {
      const group = new olm.OutboundGroupSession();
      group.create();
      group.session_key();
      for (const session of encryptors.libolmSessions) session.encrypt(payload);
      group.free();
    },
    millis,
  );
  printComparison(`rekey, ${n} member devices (rekeys/s)`, subject, [engineOverLibolm, bare]);
  const cost = probe.report?.cost;
  const perDevice = (m: { opsPerSecond: number }) => (1e6 / m.opsPerSecond / n).toFixed(1);
  console.log(
    `  cost per rekey: ${cost?.toDeviceMessages} to-device messages, ${cost?.olmEncryptions} Olm encryptions; weft ${(1000 / subject.opsPerSecond).toFixed(1)} ms wall, ${cpuPerRekey.toFixed(1)} ms CPU; per device: weft ${perDevice(subject)} µs, engine+libolm ${perDevice(engineOverLibolm)} µs, libolm bare ${perDevice(bare)} µs`,
  );
  rows.push(
    `| ${n} | ${cost?.olmEncryptions} | ${(1000 / subject.opsPerSecond).toFixed(1)} ms | ${cpuPerRekey.toFixed(1)} ms | ${((cpuPerRekey * 1000) / n).toFixed(0)} µs | ${perDevice(subject)} µs | ${perDevice(engineOverLibolm)} µs | ${perDevice(bare)} µs |`,
  );
}

console.log(
  '\n| devices | Olm encryptions = to-device messages | weft rekey (wall) | weft rekey (CPU) | weft CPU per device | weft wall per device | engine + libolm wall per device | libolm bare wall per device |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
