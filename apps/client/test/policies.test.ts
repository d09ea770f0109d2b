/**
 * Who can decrypt what, per policy, with real clients on a real Weft server. The expectations
 * come from the policy definitions (@weft/epoch README, "Who can read what"): an `epoch`
 * newcomer cannot read earlier epochs, a kicked member cannot read later messages in `epoch`
 * and `forward-secret` rooms, a `shared` newcomer reads everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import type { WeftClient } from '../src/index.ts';
import { newClient, readable, syncAll, tempDir, unreadable } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

/** alice creates a room with `mode`; bob joins; alice says `1`; carol joins; alice says `2`;
 * alice kicks bob; alice says `3`. Returns the clients and the room. */
async function scenario(mode: 'shared' | 'epoch' | 'forward-secret', tag: string) {
  const dir = tempDir();
  const alice = await newClient(server.url, dir, `alice-${tag}`);
  const bob = await newClient(server.url, dir, `bob-${tag}`);
  const carol = await newClient(server.url, dir, `carol-${tag}`);
  const roomId = await alice.createRoom({ name: mode, policy: mode, invite: [bob.userId] });
  await syncAll(alice, bob);
  await bob.join(roomId);
  await syncAll(alice, bob, carol);
  await alice.sendText(roomId, `${mode} 1`);
  await syncAll(bob);
  await alice.invite(roomId, carol.userId);
  await syncAll(carol);
  await carol.join(roomId);
  await syncAll(alice, bob, carol);
  await alice.sendText(roomId, `${mode} 2`);
  await syncAll(bob, carol);
  await carol.loadOlder(roomId, 50);
  await alice.kick(roomId, bob.userId);
  await syncAll(alice, carol);
  await alice.sendText(roomId, `${mode} 3`);
  await syncAll(bob, carol);
  return { alice, bob, carol, roomId };
}

/** Bob (kicked) tries the last message carol holds, as raw ciphertext. */
async function bobTriesLast(bob: WeftClient, carol: WeftClient, roomId: string) {
  const last = carol.room(roomId).timeline.at(-1);
  if (last?.raw === undefined) throw new Error('carol has no raw last event');
  return bob.decryptEvent(roomId, last.raw);
}

describe('epoch rooms', () => {
  it('newcomer reads only its epochs; a kicked member cannot read later messages', async () => {
    const { alice, bob, carol, roomId } = await scenario('epoch', 'e');
    expect(bob.policy(roomId)?.mode).toBe('epoch');
    expect(readable(bob, roomId)).toEqual(['epoch 1', 'epoch 2']);
    expect(readable(carol, roomId)).toEqual(['epoch 2', 'epoch 3']);
    const missing = unreadable(carol, roomId);
    expect(missing).toHaveLength(1);
    expect(missing[0]?.decryptionError?.code).toBe('missing-key');
    expect(missing[0]?.decryptionError?.reason).toMatch(/no room key for session/);
    const tried = await bobTriesLast(bob, carol, roomId);
    expect(tried.decryptionError?.code).toBe('missing-key');
    expect(readable(alice, roomId)).toEqual(['epoch 1', 'epoch 2', 'epoch 3']);
  });
});

describe('shared rooms', () => {
  it('newcomer reads all history; a kicked member still reads the unchanged session', async () => {
    const { bob, carol, roomId } = await scenario('shared', 's');
    // Carol got history when alice next sent; reload to decrypt what was loaded before.
    await carol.reloadHistory(roomId);
    expect(readable(carol, roomId)).toEqual(['shared 1', 'shared 2', 'shared 3']);
    expect(unreadable(carol, roomId)).toHaveLength(0);
    // The price of `shared`: the session did not change at the kick.
    const tried = await bobTriesLast(bob, carol, roomId);
    expect(tried.content['body']).toBe('shared 3');
  });
});

describe('forward-secret rooms', () => {
  it('keys are used once: readers keep plaintext sealed, newcomers and kicked members read nothing else', async () => {
    const { alice, bob, carol, roomId } = await scenario('forward-secret', 'f');
    expect(readable(bob, roomId)).toEqual(['forward-secret 1', 'forward-secret 2']);
    expect(readable(carol, roomId)).toEqual(['forward-secret 2', 'forward-secret 3']);
    expect((await bobTriesLast(bob, carol, roomId)).decryptionError?.code).toBe('missing-key');
    // Drop and reload: no key survives, everything readable comes from the sealed archive.
    await carol.reloadHistory(roomId);
    const messages = carol.room(roomId).timeline.filter((e) => e.encrypted);
    expect(messages.filter((e) => e.decryptedWith === 'key')).toHaveLength(0);
    expect(readable(carol, roomId)).toEqual(['forward-secret 2', 'forward-secret 3']);
    expect(messages.filter((e) => e.decryptedWith === 'archive')).toHaveLength(2);
    // The sender cannot decrypt its own messages either; it kept their plaintext.
    await alice.reloadHistory(roomId);
    expect(readable(alice, roomId)).toEqual([
      'forward-secret 1',
      'forward-secret 2',
      'forward-secret 3',
    ]);
    expect(alice.room(roomId).timeline.filter((e) => e.decryptedWith === 'key')).toHaveLength(0);
  });
});
