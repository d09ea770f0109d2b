// ReplayGuard (src/megolm/replay-guard.ts): the spec's "Message Replays" mitigation, keyed on
// (session ID, message index) with the first event ID remembered.
import { describe, expect, it } from 'vitest';

import { GroupSession, InboundGroupSession, RatchetError, ReplayGuard } from '../src/index.ts';

describe('ReplayGuard', () => {
  it('accepts a first sighting, tolerates the same event again, refuses another event', () => {
    const guard = new ReplayGuard();
    expect(guard.check('S', 0, '$a')).toBe(true);
    expect(guard.check('S', 0, '$a')).toBe(false);
    expect(guard.check('S', 1, '$b')).toBe(true);
    expect(guard.check('T', 0, '$c')).toBe(true);
    let error: unknown;
    try {
      guard.check('S', 0, '$evil');
    } catch (e) {
      error = e;
    }
    expect(RatchetError.isInstance(error) && error.code).toBe('duplicate-message');
    expect(RatchetError.isInstance(error) && error.context).toMatchObject({
      sessionId: 'S',
      messageIndex: 0,
      firstEventId: '$a',
    });
  });

  it('catches a replayed Megolm message delivered under a second event ID', () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const ciphertext = outbound.encrypt('pay Bob 5');
    const guard = new ReplayGuard();
    const deliver = (eventId: string) => {
      const { messageIndex } = inbound.decrypt(ciphertext); // decrypts every time (spec)
      return guard.check(inbound.sessionId(), messageIndex, eventId);
    };
    expect(deliver('$original')).toBe(true);
    expect(deliver('$original')).toBe(false);
    expect(() => deliver('$replay')).toThrow(/reused/);
  });

  it('persists through entries() and forgets a session', () => {
    const guard = new ReplayGuard();
    guard.check('S', 3, '$x');
    guard.check('T', 4, '$y');
    const restored = new ReplayGuard(guard.entries());
    expect([...restored.entries()]).toEqual([
      ['S', 3, '$x'],
      ['T', 4, '$y'],
    ]);
    expect(() => restored.check('S', 3, '$z')).toThrow(RatchetError);
    restored.forget('S');
    expect(restored.check('S', 3, '$z')).toBe(true);
  });

  it('rejects wrong argument types', () => {
    const guard = new ReplayGuard();
    expect(() => guard.check('S', -1, '$a')).toThrow(RangeError);
    expect(() => guard.check('S', 1.5, '$a')).toThrow(RangeError);
    expect(() => guard.check(1 as unknown as string, 0, '$a')).toThrow(TypeError);
  });
});
