/**
 * The README's runnable example, kept here verbatim (between the markers) so it cannot rot.
 */
import { expect, it } from 'vitest';

it('README example runs and bob reads alice’s message', async () => {
  const log: string[] = [];
  const console = { log: (...args: unknown[]) => log.push(args.join(' ')) };
  // --- README example start ---
  const { Account } = await import('@weft/ratchet');
  const { parseEncryptionContent, RoomEncryptor, RoomKeyReceiver, ratchetMegolm } = await import(
    '@weft/epoch'
  );
  type StoredRoomKey = import('@weft/epoch').StoredRoomKey;

  // A key store: here a Map (yours would persist, and must really erase on delete).
  const mapStore = () => {
    const keys = new Map<string, StoredRoomKey>();
    return {
      get: (roomId: string, sessionId: string) => keys.get(`${roomId}|${sessionId}`),
      put: (key: StoredRoomKey) => void keys.set(`${key.roomId}|${key.sessionId}`, key),
      delete: (roomId: string, sessionId: string) => void keys.delete(`${roomId}|${sessionId}`),
      list: (roomId: string) => [...keys.values()].filter((k) => k.roomId === roomId),
    };
  };

  // Two devices with Olm identities; alice claims one of bob's one-time keys.
  const aliceAccount = Account.create();
  const bobAccount = Account.create();
  const alice = { userId: '@alice:example.org', deviceId: 'ALICE', ...aliceAccount.identityKeys() };
  const bob = { userId: '@bob:example.org', deviceId: 'BOB', ...bobAccount.identityKeys() };
  bobAccount.generateOneTimeKeys(1);
  const [bobOneTimeKey] = Object.values(bobAccount.oneTimeKeys());
  const olmToBob = aliceAccount.createOutboundSession(bob.curve25519, bobOneTimeKey ?? '');

  // The room's m.room.encryption content decides the policy.
  const policy = parseEncryptionContent({
    algorithm: 'm.megolm.v1.aes-sha2',
    'org.weft.policy': { mode: 'epoch', rotate_after_messages: 100 },
  });
  const roomId = '!room:example.org';
  const encryptor = new RoomEncryptor({
    roomId,
    own: alice,
    policy,
    megolm: ratchetMegolm,
    store: mapStore(),
    olm: {
      encryptForDevice: (device, payload) => ({
        algorithm: 'm.olm.v1.curve25519-aes-sha2',
        sender_key: alice.curve25519,
        ciphertext: { [device.curve25519]: olmToBob.encrypt(JSON.stringify(payload)) },
      }),
    },
  });

  // Membership and device lists come in as plain data.
  const room = {
    members: [
      { userId: alice.userId, membership: 'join' as const },
      { userId: bob.userId, membership: 'join' as const },
    ],
    devices: [alice, bob],
  };
  const sent = await encryptor.encrypt('m.room.message', { msgtype: 'm.text', body: 'hi' }, room);
  console.log(`rekey: ${sent.rekey?.reason}, ${sent.cost.olmEncryptions} Olm encryption(s)`);

  // Bob: Olm-decrypt the to-device key, import it, decrypt the room event.
  const bobReceiver = new RoomKeyReceiver({
    own: bob,
    megolm: ratchetMegolm,
    store: mapStore(),
    policyFor: () => policy,
  });
  for (const message of sent.toDevice) {
    if (message.type !== 'm.room.encrypted' || !('ciphertext' in message.content)) continue;
    const olmMessage = message.content.ciphertext[bob.curve25519];
    if (olmMessage === undefined) continue;
    const { plaintext } = bobAccount.createInboundSession(alice.curve25519, olmMessage.body);
    await bobReceiver.receiveKey(JSON.parse(new TextDecoder().decode(plaintext)), alice.curve25519);
  }
  const event = await bobReceiver.decrypt(roomId, sent.content);
  console.log(event.type, event.content['body']);
  // --- README example end ---
  expect(log).toEqual(['rekey: first-message, 1 Olm encryption(s)', 'm.room.message hi']);
});
