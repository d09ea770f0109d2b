/**
 * Server-side key backups with a real client: matrix-js-sdk 43's Rust crypto (vodozemac) creates
 * a backup version (`POST /room_keys/version` with its signed `auth_data`), trusts it from what
 * `GET /room_keys/version` returns, backs up the Megolm session of a message it sent in an
 * encrypted room through `PUT /room_keys/keys`, and restores it from `GET /room_keys/keys`.
 */
import { type MatrixClient, MsgType } from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { bootstrapCrossSigning, startSdkClient } from './js-sdk.ts';
import { call, type Json, type TestUser } from './sync-helpers.ts';

const PASSWORD = 'correct horse battery staple';
const V3 = '/_matrix/client/v3';

let server: TestServer;
const sdks: MatrixClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const sdk of sdks) sdk.stopClient();
  await server.stop();
});

/** Polls `probe` until it returns a value, or fails after `ms`. */
async function poll<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('key backup with matrix-js-sdk (Rust crypto)', () => {
  it('creates a backup version, backs up a room key and restores it', async () => {
    const user: TestUser = await server.client.registerUser('alice', PASSWORD);
    const alice = await startSdkClient(server.url, user, { crypto: true });
    sdks.push(alice);
    const crypto = await bootstrapCrossSigning(alice, user.userId, PASSWORD);

    await crypto.resetKeyBackup();
    const version = await crypto.getActiveSessionBackupVersion();
    expect(version).toBe('1');
    const stored: Json = await call(server, user, 'GET', `${V3}/room_keys/version`);
    expect(stored['algorithm']).toBe('m.megolm_backup.v1.curve25519-aes-sha2');
    expect(typeof stored['auth_data']['public_key']).toBe('string');
    expect(Object.keys(stored['auth_data']['signatures'][user.userId]).length).toBeGreaterThan(0);
    const info = await crypto.getKeyBackupInfo();
    expect(info?.version).toBe(version);
    if (info === null) throw new Error('no backup info');
    expect((await crypto.isKeyBackupTrusted(info)).trusted).toBe(true);

    // A message in an encrypted room: the SDK backs up the Megolm session it made for it.
    const { room_id: roomId } = await alice.createRoom({
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    });
    await poll(
      () => (alice.getRoom(roomId)?.hasEncryptionStateEvent() === true ? true : undefined),
      'the encrypted room in alice’s sync',
    );
    await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'backed up' });
    const backedUp = await poll(async () => {
      const keys: Json = await call(server, user, 'GET', `${V3}/room_keys/keys?version=${version}`);
      return keys['rooms'][roomId] === undefined ? undefined : keys['rooms'][roomId]['sessions'];
    }, 'the room key in the backup');
    const [sessionKey] = Object.values(backedUp) as Json[];
    expect(Object.keys(backedUp)).toHaveLength(1);
    expect(sessionKey?.['session_data']).toEqual({
      ephemeral: expect.any(String),
      ciphertext: expect.any(String),
      mac: expect.any(String),
    });
    expect((await call(server, user, 'GET', `${V3}/room_keys/version`))['count']).toBe(1);

    // The SDK reads the backup back and decrypts it with its cached backup key.
    const restored = await crypto.restoreKeyBackup();
    expect(restored.total).toBe(1);
    expect(restored.imported).toBe(1);
  }, 120_000);
});
