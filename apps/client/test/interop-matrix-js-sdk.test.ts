/**
 * Interop: Weft's client and matrix-js-sdk 43 with its Rust crypto
 * (@matrix-org/matrix-sdk-crypto-wasm) in one encrypted room on a Weft server. Messages from each
 * decrypt at the other, in `shared` and `epoch` rooms.
 */
import type { MatrixClient, MatrixEvent } from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { startSdkClient } from '../../server/test/js-sdk.ts';
import { newClient, readable, syncAll, tempDir } from './helpers.ts';

let server: TestServer;
const sdks: MatrixClient[] = [];
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const sdk of sdks) sdk.stopClient();
  await server.stop();
});

async function sdkUser(name: string): Promise<MatrixClient> {
  const user = await server.client.registerUser(name);
  const sdk = await startSdkClient(server.url, user, { crypto: true, initialSyncLimit: 20 });
  sdks.push(sdk);
  return sdk;
}

async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sdkBodies(sdk: MatrixClient, roomId: string): string[] {
  const room = sdk.getRoom(roomId);
  if (room === null) return [];
  return room
    .getLiveTimeline()
    .getEvents()
    .filter((e: MatrixEvent) => e.getType() === 'm.room.message' && !e.isDecryptionFailure())
    .map((e: MatrixEvent) => String(e.getContent()['body']));
}

for (const mode of ['shared', 'epoch'] as const) {
  describe(`${mode} room`, () => {
    it('messages from Weft decrypt in matrix-js-sdk and back', async () => {
      const dir = tempDir();
      const weft = await newClient(server.url, dir, `weft-${mode}`);
      const sdk = await sdkUser(`sdk-${mode}`);
      const sdkUserId = sdk.getUserId() ?? '';
      const roomId = await weft.createRoom({ policy: mode, invite: [sdkUserId] });
      await waitFor(
        () => (sdk.getRoom(roomId)?.getMyMembership() === 'invite' ? true : undefined),
        'invite',
      );
      await sdk.joinRoom(roomId);
      await waitFor(
        () => (sdk.getRoom(roomId)?.hasEncryptionStateEvent() ? true : undefined),
        'encryption state',
      );
      await syncAll(weft);

      await weft.sendText(roomId, `from weft (${mode})`);
      await waitFor(
        () => (sdkBodies(sdk, roomId).includes(`from weft (${mode})`) ? true : undefined),
        'sdk decrypts',
      );

      await sdk.sendTextMessage(roomId, `from the sdk (${mode})`);
      await waitFor(async () => {
        await weft.syncOnce(0);
        return readable(weft, roomId).includes(`from the sdk (${mode})`) ? true : undefined;
      }, 'weft decrypts');
      expect(readable(weft, roomId)).toEqual([`from weft (${mode})`, `from the sdk (${mode})`]);
    });
  });
}
