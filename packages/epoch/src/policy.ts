/**
 * A room's forward-secrecy policy, as data, and its wire form inside `m.room.encryption`.
 *
 * Spec: client-server API, End-to-End Encryption, `m.megolm.v1.aes-sha2` and the
 * `m.room.encryption` event (https://spec.matrix.org/v1.19/client-server-api/#mroomencryption).
 * The standard content is `{algorithm, rotation_period_ms?, rotation_period_msgs?}`; Weft adds
 * one namespaced field, `org.weft.policy`, that standard clients ignore.
 */
import { EpochError, typeName } from './errors.ts';

/** The only room-message algorithm Matrix defines, and the one every policy uses. */
export const MEGOLM_ALGORITHM = 'm.megolm.v1.aes-sha2';

/** The namespaced key of Weft's policy inside `m.room.encryption` content. */
export const POLICY_FIELD = 'org.weft.policy';

/** The three points of the spectrum, from most history to most forward secrecy. */
export type PolicyMode = 'shared' | 'epoch' | 'forward-secret';

/** A room's policy: its mode plus the optional rotation limits (both honoured in every mode). */
export interface RoomPolicy {
  readonly mode: PolicyMode;
  /** Start a new session after this many messages in the current one (≥ 1). */
  readonly rotateAfterMessages?: number;
  /** Start a new session once the current one is this many milliseconds old (≥ 1). */
  readonly rotateAfterMs?: number;
}

/** What a mode means for the engine; every decision reads these flags, not the mode string. */
export interface PolicyRules {
  /** A change in membership or in the member devices starts a new session. */
  readonly rotateOnMembershipChange: boolean;
  /** Every message gets a new session, used once. */
  readonly sessionPerMessage: boolean;
  /** Sessions created under this mode are given to later members from their first index. */
  readonly historyShared: boolean;
  /** The sending device keeps an inbound copy of its own sessions (to read its own history). */
  readonly senderKeepsKeys: boolean;
  /** A receiving device keeps a key after it has decrypted the message(s) it was sent for. */
  readonly receiverKeepsKeys: boolean;
}

/** The rules of each mode (STYLE.md practice 4: rules are data). */
export const POLICY_RULES: Readonly<Record<PolicyMode, PolicyRules>> = Object.freeze({
  shared: Object.freeze({
    rotateOnMembershipChange: false,
    sessionPerMessage: false,
    historyShared: true,
    senderKeepsKeys: true,
    receiverKeepsKeys: true,
  }),
  epoch: Object.freeze({
    rotateOnMembershipChange: true,
    sessionPerMessage: false,
    historyShared: false,
    senderKeepsKeys: true,
    receiverKeepsKeys: true,
  }),
  'forward-secret': Object.freeze({
    rotateOnMembershipChange: true,
    sessionPerMessage: true,
    historyShared: false,
    senderKeepsKeys: false,
    receiverKeepsKeys: false,
  }),
});

const MODES: readonly PolicyMode[] = ['shared', 'epoch', 'forward-secret'];

/**
 * The policy a Weft client applies in a room whose `m.room.encryption` has no Weft field: `epoch`
 * with the spec's recommended rotation defaults (`m.room.encryption`: "`604800000` (a week) is the
 * recommended default", "`100` is the recommended default") wherever the room sets none.
 */
export const DEFAULT_POLICY: RoomPolicy = Object.freeze({
  mode: 'epoch',
  rotateAfterMessages: 100,
  rotateAfterMs: 604800000,
});

/** The `m.room.encryption` content Weft reads and writes. */
export interface EncryptionContent {
  readonly algorithm: typeof MEGOLM_ALGORITHM;
  readonly rotation_period_ms?: number;
  readonly rotation_period_msgs?: number;
  readonly [POLICY_FIELD]?: {
    readonly mode: PolicyMode;
    readonly rotate_after_messages?: number;
    readonly rotate_after_ms?: number;
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInteger(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  // Matrix integers are limited to [-(2^53)+1, 2^53-1] (appendices, canonical JSON).
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new EpochError('invalid-policy', `${path} must be a positive integer`, {
      path,
      expected: 'integer ≥ 1',
      got: typeof value === 'number' ? String(value) : typeName(value),
    });
  }
  return value;
}

function stricter(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * Reads a room's policy from its `m.room.encryption` content.
 *
 * - `algorithm` must be `m.megolm.v1.aes-sha2` (the only one the spec defines).
 * - Without `org.weft.policy` the room is an ordinary Megolm room and Weft applies `epoch` with the
 *   spec's recommended rotation defaults where the room sets none ({@link DEFAULT_POLICY}), so it
 *   rotates at least as often as the spec asks.
 * - The spec's `rotation_period_msgs` / `rotation_period_ms` are honoured in every mode: the
 *   effective limit is the smaller of the standard field and the Weft one, so a Weft sender never
 *   uses a session longer than any client reading the same state would.
 *
 * @throws EpochError `unsupported-algorithm` or `invalid-policy`.
 */
export function parseEncryptionContent(content: unknown): RoomPolicy {
  if (!isRecord(content)) {
    throw new EpochError('invalid-policy', 'm.room.encryption content must be an object', {
      path: 'content',
      got: typeName(content),
    });
  }
  if (content['algorithm'] !== MEGOLM_ALGORITHM) {
    throw new EpochError('unsupported-algorithm', 'only m.megolm.v1.aes-sha2 rooms are supported', {
      path: 'content.algorithm',
      expected: MEGOLM_ALGORITHM,
      got:
        typeof content['algorithm'] === 'string'
          ? content['algorithm']
          : typeName(content['algorithm']),
    });
  }
  const standardMsgs = positiveInteger(
    content['rotation_period_msgs'],
    'content.rotation_period_msgs',
  );
  const standardMs = positiveInteger(content['rotation_period_ms'], 'content.rotation_period_ms');
  const weft = content[POLICY_FIELD];
  if (weft === undefined) {
    return makePolicy(
      DEFAULT_POLICY.mode,
      standardMsgs ?? DEFAULT_POLICY.rotateAfterMessages,
      standardMs ?? DEFAULT_POLICY.rotateAfterMs,
    );
  }
  const base = `content.${POLICY_FIELD}`;
  if (!isRecord(weft)) {
    throw new EpochError('invalid-policy', `${base} must be an object`, {
      path: base,
      got: typeName(weft),
    });
  }
  const rawMode = weft['mode'];
  if (typeof rawMode !== 'string' || !(MODES as readonly string[]).includes(rawMode)) {
    throw new EpochError('invalid-policy', `${base}.mode must be one of ${MODES.join(', ')}`, {
      path: `${base}.mode`,
      expected: MODES.join(' | '),
      got: typeof rawMode === 'string' ? rawMode : typeName(rawMode),
    });
  }
  const mode = rawMode as PolicyMode;
  const weftMsgs = positiveInteger(weft['rotate_after_messages'], `${base}.rotate_after_messages`);
  const weftMs = positiveInteger(weft['rotate_after_ms'], `${base}.rotate_after_ms`);
  return makePolicy(mode, stricter(weftMsgs, standardMsgs), stricter(weftMs, standardMs));
}

function makePolicy(
  mode: PolicyMode,
  msgs: number | undefined,
  ms: number | undefined,
): RoomPolicy {
  return Object.freeze({
    mode,
    ...(msgs === undefined ? {} : { rotateAfterMessages: msgs }),
    ...(ms === undefined ? {} : { rotateAfterMs: ms }),
  });
}

/**
 * Validates a policy given as data (e.g. from a settings screen) and returns a frozen copy.
 *
 * @throws TypeError / RangeError on a malformed policy.
 */
export function checkPolicy(policy: RoomPolicy): RoomPolicy {
  if (!isRecord(policy)) throw new TypeError('policy must be an object');
  if (!(MODES as readonly string[]).includes(policy.mode)) {
    throw new RangeError(`policy.mode must be one of ${MODES.join(', ')}`);
  }
  for (const key of ['rotateAfterMessages', 'rotateAfterMs'] as const) {
    const value = policy[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new RangeError(`policy.${key} must be a positive safe integer`);
    }
  }
  return makePolicy(policy.mode, policy.rotateAfterMessages, policy.rotateAfterMs);
}

/**
 * Writes a policy as `m.room.encryption` content. The rotation limits go into both the Weft
 * field and the spec's `rotation_period_msgs` / `rotation_period_ms`, so standard clients rotate
 * their own sessions on the same schedule.
 */
export function toEncryptionContent(policy: RoomPolicy): EncryptionContent {
  const p = checkPolicy(policy);
  return {
    algorithm: MEGOLM_ALGORITHM,
    ...(p.rotateAfterMs === undefined ? {} : { rotation_period_ms: p.rotateAfterMs }),
    ...(p.rotateAfterMessages === undefined ? {} : { rotation_period_msgs: p.rotateAfterMessages }),
    [POLICY_FIELD]: {
      mode: p.mode,
      ...(p.rotateAfterMessages === undefined
        ? {}
        : { rotate_after_messages: p.rotateAfterMessages }),
      ...(p.rotateAfterMs === undefined ? {} : { rotate_after_ms: p.rotateAfterMs }),
    },
  };
}

/** True when two policies decide identically. */
export function samePolicy(a: RoomPolicy, b: RoomPolicy): boolean {
  return (
    a.mode === b.mode &&
    a.rotateAfterMessages === b.rotateAfterMessages &&
    a.rotateAfterMs === b.rotateAfterMs
  );
}

/** Modes from weakest to strictest: a later one never gives a key to more readers. */
const STRENGTH: readonly PolicyMode[] = ['shared', 'epoch', 'forward-secret'];

/**
 * The strictest of two policies: the stricter mode, and each rotation limit the smaller one.
 * A client that has seen `current` keeps it against a weaker `m.room.encryption` (a room's
 * protection is only ever raised, as other clients ignore attempts to turn encryption off):
 * `strictestPolicy(current, next)` is what to apply, and when it differs from `next` the event
 * tried to weaken the room.
 */
export function strictestPolicy(current: RoomPolicy, next: RoomPolicy): RoomPolicy {
  const a = checkPolicy(current);
  const b = checkPolicy(next);
  const mode = STRENGTH.indexOf(b.mode) > STRENGTH.indexOf(a.mode) ? b.mode : a.mode;
  return makePolicy(
    mode,
    stricter(a.rotateAfterMessages, b.rotateAfterMessages),
    stricter(a.rotateAfterMs, b.rotateAfterMs),
  );
}
