/**
 * Restarts (the store re-opened with the passphrase; a wrong one is a typed error), data at rest,
 * keys that arrive late, and replayed ciphertext — real clients on a real Weft server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { ClientError, type TimelineEvent, WeftClient } from '../src/index.ts';
import { newClient, PASSPHRASE, readable, syncAll, tempDir, unreadable } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

async function pair(mode: 'shared' | 'epoch' | 'forward-secret', tag: string) {
  const dir = tempDir();
  const alice = await newClient(server.url, dir, `alice-${tag}`);
  const bob = await newClient(server.url, dir, `bob-${tag}`);
  const roomId = await alice.createRoom({ policy: mode, invite: [bob.userId] });
  await syncAll(alice, bob);
  await bob.join(roomId);
  await syncAll(alice, bob);
  return { dir, alice, bob, roomId };
}

describe('restart', () => {
  it('re-opens the store with the passphrase and keeps keys, sessions and the sync token', async () => {
    const { dir, alice, bob, roomId } = await pair('epoch', 'r');
    await alice.sendText(roomId, 'before restart');
    await syncAll(bob);
    const bobUserId = bob.userId;
    await bob.close();
    const path = join(dir, 'bob-r.db');

    let error: unknown;
    try {
      WeftClient.open({
        homeserver: server.url,
        storePath: path,
        passphrase: 'not the passphrase',
      });
    } catch (e) {
      error = e;
    }
    expect(ClientError.isInstance(error) && error.code).toBe('wrong-passphrase');

    const again = WeftClient.open({
      homeserver: server.url,
      storePath: path,
      passphrase: PASSPHRASE,
    });
    expect(again.loggedIn).toBe(true);
    expect(again.userId).toBe(bobUserId);
    expect(readable(again, roomId)).toEqual(['before restart']);
    // The persisted since token: the next sync brings only what is new.
    await alice.sendText(roomId, 'after restart');
    await again.syncOnce(0);
    expect(readable(again, roomId)).toEqual(['before restart', 'after restart']);
    // Keys survived: dropping and reloading history decrypts it all with stored keys.
    expect(await again.reloadHistory(roomId)).toBeGreaterThan(2);
    expect(readable(again, roomId)).toEqual(['before restart', 'after restart']);
    // The restored Olm account and sessions still work in the other direction.
    await again.sendText(roomId, 'bob is back');
    await alice.syncOnce(0);
    expect(readable(alice, roomId)).toContain('bob is back');
    await again.close();
  });

  it('keeps no readable plaintext or key material in the store file', async () => {
    const { dir, alice, bob, roomId } = await pair('forward-secret', 'z');
    await alice.sendText(roomId, 'unmistakable secret words');
    await syncAll(bob);
    expect(readable(bob, roomId)).toEqual(['unmistakable secret words']);
    await bob.close();
    for (const file of ['bob-z.db', 'bob-z.db-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(dir, file));
      } catch {
        continue;
      }
      expect(bytes.includes('unmistakable secret words')).toBe(false);
      expect(bytes.includes(alice.userId)).toBe(false);
    }
    const again = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, 'bob-z.db'),
      passphrase: PASSPHRASE,
    });
    await again.reloadHistory(roomId);
    expect(readable(again, roomId)).toEqual(['unmistakable secret words']);
    expect(again.room(roomId).timeline.find((e) => e.encrypted)?.decryptedWith).toBe('archive');
    await again.close();
  });
});

describe('late keys and replays', () => {
  it('gives a clear reason while the key is missing and decrypts once it arrives', async () => {
    const { alice, bob, roomId } = await pair('epoch', 'k');
    const prepared = await alice.encryptEvent(roomId, 'm.room.message', {
      msgtype: 'm.text',
      body: 'late key',
    });
    expect(prepared.toDevice.length).toBeGreaterThan(0);
    await alice.sendPrepared(roomId, 'm.room.encrypted', prepared.content);
    await bob.syncOnce(0);
    const [waiting] = unreadable(bob, roomId);
    expect(waiting?.decryptionError?.code).toBe('missing-key');
    expect(waiting?.decryptionError?.reason).toContain(String(prepared.content['session_id']));
    const seen: TimelineEvent[] = [];
    bob.onTimeline((_room, event) => seen.push(event));
    await alice.sendToDevice(prepared.toDevice);
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['late key']);
    expect(seen.map((e) => e.content['body'])).toContain('late key');
  });

  it('refuses a second event that reuses a message index (replay)', async () => {
    const { alice, bob, roomId } = await pair('shared', 'p');
    const echo = await alice.sendText(roomId, 'say it once');
    await bob.syncOnce(0);
    const original = bob.room(roomId).timeline.find((e) => e.eventId === echo.eventId);
    expect(original?.content['body']).toBe('say it once');
    if (original?.raw?.content === undefined) throw new Error('no raw content');
    await alice.sendPrepared(roomId, 'm.room.encrypted', original.raw.content);
    await bob.syncOnce(0);
    const replay = bob.room(roomId).timeline.at(-1);
    expect(replay?.eventId).not.toBe(echo.eventId);
    expect(replay?.decryptionError?.code).toBe('replayed-message');
    // The original event decrypts again on reload (same event, same index).
    await bob.reloadHistory(roomId);
    expect(readable(bob, roomId)).toEqual(['say it once']);
  });
});
