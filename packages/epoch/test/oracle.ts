/**
 * The oracle: who can decrypt which message, computed from the event sequence and the policy
 * definitions of the issue alone — it never calls the engine.
 *
 * Definitions it encodes (README, "The spectrum"):
 * - The devices meant to hold a sender's current key at a moment ("recipients") are the listed
 *   devices of users whose membership is `invite` or `join`, minus blocked devices and the sender.
 * - A sender hands out keys at its "distribution points": each message it sends, each explicit
 *   rekey, each explicit key share.
 * - shared: a session lives until an explicit rekey, a rekey-flagged membership change, a policy
 *   change or a rotation limit. At each distribution point every recipient gets every
 *   shared-history session of the sender from its first index.
 * - epoch: additionally a new session whenever membership or the recipients changed; a
 *   device gets only the session current at a distribution point.
 * - forward-secret: one session per message, given only to the recipients at that message; the
 *   sender keeps nothing, receivers delete the key after decrypting.
 */
import type { Membership, PolicyMode, RoomPolicy } from '@weft/epoch';

/** Which user owns each simulated device. */
export const DEVICE_OWNER: Readonly<Record<string, string>> = {
  a1: '@alice:weft.test',
  a2: '@alice:weft.test',
  b1: '@bob:weft.test',
  b2: '@bob:weft.test',
  c1: '@carol:weft.test',
  c2: '@carol:weft.test',
  d1: '@dave:weft.test',
};

/** One step of a simulated room's life. */
export type SimEvent =
  | {
      readonly kind: 'member';
      readonly user: string;
      readonly membership: Membership;
      readonly rekey?: boolean;
    }
  | { readonly kind: 'add-device'; readonly device: string }
  | { readonly kind: 'remove-device'; readonly device: string }
  /** Every member blocks (or unblocks) a device: it is refused keys with `m.blacklisted`. */
  | { readonly kind: 'block'; readonly device: string; readonly blocked: boolean }
  | { readonly kind: 'send'; readonly device: string }
  | { readonly kind: 'share'; readonly device: string }
  | { readonly kind: 'rekey'; readonly device: string }
  | { readonly kind: 'policy'; readonly policy: RoomPolicy }
  | { readonly kind: 'tick'; readonly ms: number };

/** The oracle's verdict on one sent message. */
export interface ExpectedMessage {
  /** Index of the `send` event in the sequence. */
  readonly step: number;
  readonly sender: string;
  readonly mode: PolicyMode;
  /** The sender's session number: messages with the same number share a Megolm session. */
  readonly session: number;
  /** Devices that can decrypt it at some point. */
  readonly readers: ReadonlySet<string>;
  /** Devices that can still decrypt it after the whole sequence. */
  readonly finalReaders: ReadonlySet<string>;
}

/** Room state as the oracle and the simulation both track it. */
export class RoomModel {
  readonly membership = new Map<string, Membership>();
  readonly listed = new Set<string>();
  readonly blocked = new Set<string>();

  apply(event: SimEvent): void {
    if (event.kind === 'member') this.membership.set(event.user, event.membership);
    else if (event.kind === 'add-device') this.listed.add(event.device);
    else if (event.kind === 'remove-device') this.listed.delete(event.device);
    else if (event.kind === 'block' && event.blocked) this.blocked.add(event.device);
    else if (event.kind === 'block') this.blocked.delete(event.device);
  }

  /** A device may send only while listed and its user is joined. */
  canAct(device: string): boolean {
    const user = DEVICE_OWNER[device];
    return this.listed.has(device) && user !== undefined && this.membership.get(user) === 'join';
  }

  /** The devices allowed the sender's key now: members' listed devices, not blocked. */
  recipients(sender: string): string[] {
    return [...this.listed]
      .filter((d) => {
        const m = this.membership.get(DEVICE_OWNER[d] ?? '');
        return d !== sender && !this.blocked.has(d) && (m === 'join' || m === 'invite');
      })
      .sort();
  }
}

function samePolicy(a: RoomPolicy, b: RoomPolicy): boolean {
  return (
    a.mode === b.mode &&
    a.rotateAfterMessages === b.rotateAfterMessages &&
    a.rotateAfterMs === b.rotateAfterMs
  );
}

interface OracleSession {
  readonly id: number;
  readonly createdAt: number;
  readonly shareable: boolean;
  readonly recipientsAtStart: string;
  count: number;
}

interface Point {
  readonly step: number;
  readonly sender: string;
  readonly session: number;
  readonly mode: PolicyMode;
  readonly recipients: readonly string[];
}

/** Computes, for every message of `events`, which devices can read it. */
export function expectedReaders(
  events: readonly SimEvent[],
  initial: RoomPolicy,
): ExpectedMessage[] {
  const room = new RoomModel();
  let policy = initial;
  let clock = 0;
  let nextId = 0;
  const current = new Map<string, OracleSession | undefined>();
  const dirty = new Set<string>();
  const created = new Map<number, { step: number; shareable: boolean }>();
  const points: Point[] = [];
  const sends: Array<{ step: number; sender: string; session: number; mode: PolicyMode }> = [];
  const everyDevice = Object.keys(DEVICE_OWNER);

  const startSession = (sender: string, step: number): OracleSession => {
    const session: OracleSession = {
      id: nextId++,
      createdAt: clock,
      shareable: policy.mode === 'shared',
      recipientsAtStart: room.recipients(sender).join(','),
      count: 0,
    };
    created.set(session.id, { step, shareable: session.shareable });
    current.set(sender, session);
    dirty.delete(sender);
    return session;
  };
  const sessionFor = (sender: string, step: number): OracleSession => {
    const s = current.get(sender);
    const needNew =
      policy.mode === 'forward-secret' ||
      s === undefined ||
      dirty.has(sender) ||
      (policy.rotateAfterMessages !== undefined && s.count >= policy.rotateAfterMessages) ||
      (policy.rotateAfterMs !== undefined && clock - s.createdAt >= policy.rotateAfterMs) ||
      (policy.mode === 'epoch' && room.recipients(sender).join(',') !== s.recipientsAtStart);
    return needNew || s === undefined ? startSession(sender, step) : s;
  };

  events.forEach((event, step) => {
    switch (event.kind) {
      case 'member':
        room.apply(event);
        // Rekey-flagged changes rotate every sender; other changes rotate outside `shared`.
        if (event.rekey === true || policy.mode !== 'shared')
          for (const d of everyDevice) dirty.add(d);
        break;
      case 'add-device':
      case 'remove-device':
      case 'block':
        room.apply(event);
        break;
      case 'tick':
        clock += event.ms;
        break;
      case 'policy':
        if (!samePolicy(policy, event.policy)) {
          policy = event.policy;
          for (const d of everyDevice) {
            dirty.add(d);
            current.set(d, undefined);
          }
        }
        break;
      case 'rekey':
      case 'share':
      case 'send': {
        if (!room.canAct(event.device)) break;
        if (event.kind !== 'send' && policy.mode === 'forward-secret') break;
        const session =
          event.kind === 'rekey'
            ? startSession(event.device, step)
            : sessionFor(event.device, step);
        points.push({
          step,
          sender: event.device,
          session: session.id,
          mode: policy.mode,
          recipients: room.recipients(event.device),
        });
        if (event.kind === 'send') {
          sends.push({ step, sender: event.device, session: session.id, mode: policy.mode });
          session.count += 1;
          if (policy.mode === 'forward-secret') current.set(event.device, undefined);
        }
        break;
      }
    }
  });

  return sends.map((m) => {
    const readers = new Set<string>();
    const atSend = points.find((p) => p.step === m.step);
    for (const d of atSend?.recipients ?? []) readers.add(d);
    const origin = created.get(m.session);
    if (origin?.shareable === true) {
      for (const p of points) {
        if (p.sender !== m.sender || p.step < origin.step) continue;
        if (p.session === m.session || p.mode === 'shared')
          for (const d of p.recipients) readers.add(d);
      }
    }
    if (m.mode !== 'forward-secret') readers.add(m.sender);
    const finalReaders = m.mode === 'forward-secret' ? new Set<string>() : new Set(readers);
    return {
      step: m.step,
      sender: m.sender,
      mode: m.mode,
      session: m.session,
      readers,
      finalReaders,
    };
  });
}
