/**
 * `m.room.encryption` content ↔ policy (spec: client-server API, `m.room.encryption`, and
 * `m.megolm.v1.aes-sha2` on `rotation_period_ms` / `rotation_period_msgs`).
 */

import {
  DEFAULT_POLICY,
  EpochError,
  POLICY_FIELD,
  POLICY_RULES,
  parseEncryptionContent,
  recipientDevices,
  toEncryptionContent,
} from '@weft/epoch';
import { describe, expect, it } from 'vitest';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return EpochError.isInstance(e) ? e.code : `not EpochError: ${String(e)}`;
  }
  return undefined;
}

describe('parseEncryptionContent', () => {
  it('reads a standard Megolm room (no Weft field) as epoch with the spec’s recommended defaults', () => {
    expect(parseEncryptionContent({ algorithm: 'm.megolm.v1.aes-sha2' })).toEqual({
      mode: 'epoch',
      rotateAfterMessages: 100,
      rotateAfterMs: 604800000,
    });
    expect(DEFAULT_POLICY).toEqual({
      mode: 'epoch',
      rotateAfterMessages: 100,
      rotateAfterMs: 604800000,
    });
    expect(
      parseEncryptionContent({
        algorithm: 'm.megolm.v1.aes-sha2',
        rotation_period_ms: 3600000,
        rotation_period_msgs: 500,
      }),
    ).toEqual({ mode: 'epoch', rotateAfterMessages: 500, rotateAfterMs: 3600000 });
  });

  it('reads each Weft mode and its parameters', () => {
    for (const mode of ['shared', 'epoch', 'forward-secret'] as const) {
      expect(
        parseEncryptionContent({ algorithm: 'm.megolm.v1.aes-sha2', [POLICY_FIELD]: { mode } }),
      ).toEqual({ mode });
    }
    expect(
      parseEncryptionContent({
        algorithm: 'm.megolm.v1.aes-sha2',
        [POLICY_FIELD]: { mode: 'epoch', rotate_after_messages: 50, rotate_after_ms: 3600000 },
      }),
    ).toEqual({ mode: 'epoch', rotateAfterMessages: 50, rotateAfterMs: 3600000 });
  });

  it('applies the stricter of the standard and the Weft limit', () => {
    const policy = parseEncryptionContent({
      algorithm: 'm.megolm.v1.aes-sha2',
      rotation_period_msgs: 10,
      rotation_period_ms: 1000,
      [POLICY_FIELD]: { mode: 'shared', rotate_after_messages: 20, rotate_after_ms: 500 },
    });
    expect(policy).toEqual({ mode: 'shared', rotateAfterMessages: 10, rotateAfterMs: 500 });
  });

  it('rejects other algorithms and malformed fields with typed codes', () => {
    expect(
      codeOf(() => parseEncryptionContent({ algorithm: 'm.olm.v1.curve25519-aes-sha2' })),
    ).toBe('unsupported-algorithm');
    expect(codeOf(() => parseEncryptionContent({}))).toBe('unsupported-algorithm');
    expect(codeOf(() => parseEncryptionContent(null))).toBe('invalid-policy');
    expect(codeOf(() => parseEncryptionContent([]))).toBe('invalid-policy');
    const bad = [
      { [POLICY_FIELD]: 'epoch' },
      { [POLICY_FIELD]: { mode: 'secret' } },
      { [POLICY_FIELD]: { mode: 'epoch', rotate_after_messages: 0 } },
      { [POLICY_FIELD]: { mode: 'epoch', rotate_after_ms: 1.5 } },
      { [POLICY_FIELD]: { mode: 'epoch', rotate_after_ms: 2 ** 53 } },
      { rotation_period_msgs: '100' },
      { rotation_period_ms: -1 },
    ];
    for (const extra of bad) {
      expect(
        codeOf(() => parseEncryptionContent({ algorithm: 'm.megolm.v1.aes-sha2', ...extra })),
      ).toBe('invalid-policy');
    }
  });

  it('names the offending path without echoing long values', () => {
    try {
      parseEncryptionContent({
        algorithm: 'm.megolm.v1.aes-sha2',
        [POLICY_FIELD]: { mode: 'nope' },
      });
      expect.unreachable();
    } catch (e) {
      expect(EpochError.isInstance(e) && e.path).toBe(`content.${POLICY_FIELD}.mode`);
    }
  });
});

describe('toEncryptionContent', () => {
  it('writes the limits into both the Weft field and the spec fields, and round-trips', () => {
    const content = toEncryptionContent({
      mode: 'epoch',
      rotateAfterMessages: 100,
      rotateAfterMs: 604800000,
    });
    expect(content).toEqual({
      algorithm: 'm.megolm.v1.aes-sha2',
      rotation_period_ms: 604800000,
      rotation_period_msgs: 100,
      [POLICY_FIELD]: { mode: 'epoch', rotate_after_messages: 100, rotate_after_ms: 604800000 },
    });
    expect(parseEncryptionContent(content)).toEqual({
      mode: 'epoch',
      rotateAfterMessages: 100,
      rotateAfterMs: 604800000,
    });
    expect(toEncryptionContent({ mode: 'forward-secret' })).toEqual({
      algorithm: 'm.megolm.v1.aes-sha2',
      [POLICY_FIELD]: { mode: 'forward-secret' },
    });
  });

  it('rejects malformed policies with TypeError / RangeError', () => {
    expect(() => toEncryptionContent(null as never)).toThrow(TypeError);
    expect(() => toEncryptionContent({ mode: 'open' as never })).toThrow(RangeError);
    expect(() => toEncryptionContent({ mode: 'epoch', rotateAfterMessages: 0 })).toThrow(
      RangeError,
    );
  });
});

describe('POLICY_RULES', () => {
  it('is frozen data spanning the spectrum', () => {
    expect(Object.isFrozen(POLICY_RULES) && Object.isFrozen(POLICY_RULES.epoch)).toBe(true);
    expect(POLICY_RULES.shared.historyShared).toBe(true);
    expect(POLICY_RULES.epoch.rotateOnMembershipChange && !POLICY_RULES.epoch.historyShared).toBe(
      true,
    );
    expect(
      POLICY_RULES['forward-secret'].receiverKeepsKeys ||
        POLICY_RULES['forward-secret'].senderKeepsKeys,
    ).toBe(false);
  });
});

describe('recipientDevices', () => {
  const own = { userId: '@a:x', deviceId: 'A1', curve25519: 'ca1', ed25519: 'ea1' };
  const device = (userId: string, deviceId: string) => ({
    userId,
    deviceId,
    curve25519: `c${deviceId}`,
    ed25519: `e${deviceId}`,
  });

  it('lists joined and invited users’ devices except the sender, once each', () => {
    const room = {
      members: [
        { userId: '@a:x', membership: 'join' as const },
        { userId: '@b:x', membership: 'invite' as const },
        { userId: '@c:x', membership: 'leave' as const },
        { userId: '@d:x', membership: 'knock' as const },
      ],
      devices: [
        device('@a:x', 'A1'),
        device('@a:x', 'A2'),
        device('@b:x', 'B1'),
        device('@b:x', 'B1'),
        device('@c:x', 'C1'),
        device('@d:x', 'D1'),
        device('@e:x', 'E1'),
      ],
    };
    expect(recipientDevices(room, own).map((d) => d.deviceId)).toEqual(['A2', 'B1']);
    expect(recipientDevices(room, own, false).map((d) => d.deviceId)).toEqual(['A2']);
  });

  it('throws TypeError on malformed input', () => {
    expect(() => recipientDevices(null as never, own)).toThrow(TypeError);
    expect(() => recipientDevices({ members: [], devices: [] }, null as never)).toThrow(TypeError);
  });
});
