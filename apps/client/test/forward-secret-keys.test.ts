/**
 * Forward-secret room keys in the SDK (RoomCrypto over the real SQLite store): deleted only after
 * the sender and replay checks pass, the sender's claimed Ed25519 key checked, erased from the
 * database file and its WAL, and never stored again when the Olm message is replayed. Device
 * lists refuse a device that reuses another device's Curve25519 key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { encodeCanonicalJson } from '@weft/canonical-json';
import { type DeviceInfo, type OlmPlaintext, ratchetMegolm } from '@weft/epoch';
import { Account } from '@weft/ratchet';
import type { MatrixHttpClient } from '@weft/transport';
import { describe, expect, it } from 'vitest';

import { ClientError } from '../src/errors.ts';
import { LocalStore } from '../src/sdk/local-store.ts';
import { OlmMachine } from '../src/sdk/olm-machine.ts';
import { RoomCrypto } from '../src/sdk/room-crypto.ts';
import { PASSPHRASE, tempDir } from './helpers.ts';

const ROOM = '!fs:weft.test';
const own = { userId: '@bob:weft.test', deviceId: 'BOB', curve25519: 'bobCurve', ed25519: 'bobEd' };
const aliceDevice: DeviceInfo = {
  userId: '@alice:weft.test',
  deviceId: 'ALICE',
  curve25519: 'aliceCurve',
  ed25519: 'aliceEd',
};

/** RoomCrypto over a real store, with a device list that knows Alice's device only. */
function setup(path = join(tempDir(), 'bob.db'), devices: DeviceInfo[] = [aliceDevice]) {
  const store = LocalStore.open(path, PASSPHRASE);
  const olm = {
    own,
    deviceFor: async (userId: string, curve25519: string) =>
      devices.find((d) => d.userId === userId && d.curve25519 === curve25519),
  } as unknown as OlmMachine;
  const crypto = new RoomCrypto(olm, store);
  crypto.setPolicy(ROOM, { mode: 'forward-secret' });
  return { path, store, crypto };
}

function singleUseKey(session: { sessionId(): string; sessionKey(): string }): OlmPlaintext {
  return {
    type: 'm.room_key',
    content: {
      algorithm: 'm.megolm.v1.aes-sha2',
      room_id: ROOM,
      session_id: session.sessionId(),
      session_key: session.sessionKey(),
      'org.weft.single_use': true,
    },
    sender: aliceDevice.userId,
    recipient: own.userId,
    recipient_keys: { ed25519: own.ed25519 },
    keys: { ed25519: aliceDevice.ed25519 },
  };
}

function roomEvent(eventId: string, sender: string, content: Record<string, unknown>) {
  return { event_id: eventId, sender, content };
}

function encrypted(session: { sessionId(): string; encrypt(p: string): string }, body: string) {
  return {
    algorithm: 'm.megolm.v1.aes-sha2',
    sender_key: aliceDevice.curve25519,
    device_id: aliceDevice.deviceId,
    session_id: session.sessionId(),
    ciphertext: session.encrypt(
      JSON.stringify({ type: 'm.room.message', content: { body }, room_id: ROOM }),
    ),
  };
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return ClientError.isInstance(e) ? e.code : `not ClientError: ${String(e)}`;
  }
  return undefined;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}

describe('forward-secret keys are deleted only after the checks pass', () => {
  it('a copy under another sender is refused and the real event still decrypts', async () => {
    const { crypto, store } = setup();
    const out = ratchetMegolm.createOutbound();
    await crypto.receiveKey(singleUseKey(out), aliceDevice.curve25519);
    const content = encrypted(out, 'only once');
    expect(
      await errorCode(crypto.decrypt(ROOM, roomEvent('$forged', '@mallory:weft.test', content))),
    ).toBe('untrusted-sender');
    const real = await crypto.decrypt(ROOM, roomEvent('$real', aliceDevice.userId, content));
    expect(real.content['body']).toBe('only once');
    // Deleted after the real event: nothing decrypts it again.
    expect(
      await errorCode(crypto.decrypt(ROOM, roomEvent('$real', aliceDevice.userId, content))),
    ).toBe('missing-key');
    store.close();
  });

  it('refuses a key whose claimed Ed25519 key is not the device’s (and keeps the key)', async () => {
    const devices = [{ ...aliceDevice, ed25519: 'anotherEd' }];
    const { crypto, store } = setup(undefined, devices);
    const out = ratchetMegolm.createOutbound();
    await crypto.receiveKey(singleUseKey(out), aliceDevice.curve25519);
    const content = encrypted(out, 'signed by whom?');
    expect(
      await errorCode(crypto.decrypt(ROOM, roomEvent('$e', aliceDevice.userId, content))),
    ).toBe('untrusted-sender');
    devices[0] = aliceDevice;
    const ok = await crypto.decrypt(ROOM, roomEvent('$e', aliceDevice.userId, content));
    expect(ok.content['body']).toBe('signed by whom?');
    store.close();
  });
});

describe('a deleted forward-secret key', () => {
  it('is absent from the database file and its WAL', async () => {
    const { crypto, store, path } = setup();
    const out = ratchetMegolm.createOutbound();
    await crypto.receiveKey(singleUseKey(out), aliceDevice.curve25519);
    store.flush();
    const raw = new DatabaseSync(path, { readOnly: true });
    const row = raw
      .prepare('SELECT value FROM room_keys WHERE session_id = ?')
      .get(out.sessionId()) as { value: Uint8Array } | undefined;
    raw.close();
    if (row === undefined) throw new Error('the key was not stored');
    const sealed = Uint8Array.from(row.value);
    expect(sealed.length).toBeGreaterThan(32);
    const files = () => [path, `${path}-wal`].filter(existsSync).map((p) => readFileSync(p));
    expect(files().some((bytes) => contains(bytes, sealed))).toBe(true);

    const content = encrypted(out, 'read then gone');
    await crypto.decrypt(ROOM, roomEvent('$gone', aliceDevice.userId, content));
    store.flush(); // the client flushes once per sync batch
    expect(files().some((bytes) => contains(bytes, sealed))).toBe(false);
    store.close();
    expect(files().some((bytes) => contains(bytes, sealed))).toBe(false);
  });

  it('stays deleted when the Olm message carrying it is replayed', async () => {
    const first = setup();
    const out = ratchetMegolm.createOutbound();
    const key = singleUseKey(out);
    await first.crypto.receiveKey(key, aliceDevice.curve25519);
    const content = encrypted(out, 'no second reading');
    await first.crypto.decrypt(ROOM, roomEvent('$once', aliceDevice.userId, content));
    await first.crypto.receiveKey(key, aliceDevice.curve25519);
    expect(
      await errorCode(first.crypto.decrypt(ROOM, roomEvent('$once', aliceDevice.userId, content))),
    ).toBe('missing-key');
    first.store.close();
    // After a restart too (the tombstone is in the store).
    const again = setup(first.path);
    await again.crypto.receiveKey(key, aliceDevice.curve25519);
    expect(
      await errorCode(again.crypto.decrypt(ROOM, roomEvent('$once', aliceDevice.userId, content))),
    ).toBe('missing-key');
    again.store.close();
  });
});

describe('device lists', () => {
  function signedDeviceKeys(account: Account, userId: string, deviceId: string, curve: string) {
    const ed = account.identityKeys().ed25519;
    const body = {
      user_id: userId,
      device_id: deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${deviceId}`]: curve, [`ed25519:${deviceId}`]: ed },
    };
    return {
      ...body,
      signatures: {
        [userId]: { [`ed25519:${deviceId}`]: account.sign(encodeCanonicalJson(body)) },
      },
    };
  }

  it('refuses a self-signed device that reuses another device’s Curve25519 key', async () => {
    const alice = Account.create();
    const mallory = Account.create();
    const aliceCurve = alice.identityKeys().curve25519;
    const answers: Record<string, Record<string, unknown>> = {
      '@alice:weft.test': {
        ALICE: signedDeviceKeys(alice, '@alice:weft.test', 'ALICE', aliceCurve),
      },
      '@mallory:weft.test': {
        MAL: signedDeviceKeys(mallory, '@mallory:weft.test', 'MAL', aliceCurve),
        MAL2: signedDeviceKeys(
          mallory,
          '@mallory:weft.test',
          'MAL2',
          mallory.identityKeys().curve25519,
        ),
      },
    };
    const http = {
      post: async (_path: string, body: { device_keys: Record<string, unknown> }) => ({
        device_keys: Object.fromEntries(
          Object.keys(body.device_keys).map((id) => [id, answers[id] ?? {}]),
        ),
      }),
    } as unknown as MatrixHttpClient;
    const store = LocalStore.open(join(tempDir(), 'bob.db'), PASSPHRASE);
    const machine = OlmMachine.load(own.userId, own.deviceId, store, http);
    expect((await machine.devicesOf(['@alice:weft.test'])).map((d) => d.deviceId)).toEqual([
      'ALICE',
    ]);
    // Mallory's device naming Alice's Curve25519 key is dropped; her honest device stays.
    expect((await machine.devicesOf(['@mallory:weft.test'])).map((d) => d.deviceId)).toEqual([
      'MAL2',
    ]);
    expect(await machine.deviceFor('@mallory:weft.test', aliceCurve)).toBeUndefined();
    expect((await machine.deviceFor('@alice:weft.test', aliceCurve))?.deviceId).toBe('ALICE');
    store.close();
  });
});
