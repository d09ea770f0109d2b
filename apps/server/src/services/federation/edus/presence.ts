/**
 * Local users' presence as `m.presence` EDUs (spec server-server-api "Presence": `{ push: [{
 * user_id, presence, last_active_ago, currently_active, status_msg }] }`; servers "should only
 * send presence updates for users that the receiving server would be interested in", such as a
 * server sharing a room with the user). Each announcement the presence service makes (a change,
 * or the periodic repeat of an unchanged state) goes to every other server with a member sharing
 * a joined room with the user, through the persisted per-destination queue.
 *
 * Batching: announcements made in one turn of the event loop (the sweep's periodic repeats), or
 * while earlier ones are being queued (a sweep idling user after user), are queued together, one
 * EDU per set of destinations, and a user announced twice before then goes once, as last
 * announced.
 */
import type { ServerContext } from '../../core/context.ts';
import type { PresenceContent, PresenceService } from '../../presence/service.ts';
import { serversSharingRoomsWith } from '../sender/destinations.ts';
import type { FederationSender } from '../sender/queue.ts';

/** Users per EDU: a `push` entry is ≈ 150 bytes, so an EDU stays far below request limits. */
export const MAX_PRESENCE_PER_EDU = 100;

/** One `push` entry of an `m.presence` EDU. */
type PresenceUpdate = PresenceContent & { readonly user_id: string };

/** Queues `m.presence` EDUs for the local presence `presence` announces. */
export function sendLocalPresence(
  ctx: ServerContext,
  sender: Pick<FederationSender, 'queueEdu'>,
  presence: Pick<PresenceService, 'onLocalPresence'>,
): void {
  const self = ctx.config.serverName;
  let waiting = new Map<string, PresenceContent>();
  let queueing = false;

  /** Queues what is waiting, then what arrived meanwhile, until nothing waits. */
  const drain = async (): Promise<void> => {
    try {
      while (waiting.size > 0) {
        const batch = waiting;
        waiting = new Map();
        await queueBatch(batch).catch((error: unknown) =>
          ctx.log.warn('queueing presence EDUs failed', { error: (error as Error).message }),
        );
      }
    } finally {
      queueing = false;
    }
  };

  const queueBatch = async (batch: ReadonlyMap<string, PresenceContent>): Promise<void> => {
    // Destinations receiving the same users share one EDU (one queue row each).
    const usersOf = new Map<string, string[]>();
    for (const userId of batch.keys()) {
      for (const server of await serversSharingRoomsWith(ctx.db, userId, self)) {
        const users = usersOf.get(server) ?? [];
        users.push(userId);
        usersOf.set(server, users);
      }
    }
    const groups = new Map<string, { users: string[]; destinations: string[] }>();
    for (const [server, users] of usersOf) {
      const key = JSON.stringify(users);
      const group = groups.get(key) ?? { users, destinations: [] };
      group.destinations.push(server);
      groups.set(key, group);
    }
    for (const { users, destinations } of groups.values()) {
      const push: PresenceUpdate[] = users.map((userId) => ({
        user_id: userId,
        ...(batch.get(userId) as PresenceContent),
      }));
      for (let i = 0; i < push.length; i += MAX_PRESENCE_PER_EDU) {
        await sender.queueEdu(destinations.sort(), {
          edu_type: 'm.presence',
          content: { push: push.slice(i, i + MAX_PRESENCE_PER_EDU) },
        });
      }
    }
  };

  presence.onLocalPresence((userId, content) => {
    waiting.set(userId, content);
    if (queueing) return;
    queueing = true;
    // After this turn: the announcements made in it go in the same batch.
    queueMicrotask(() => void drain());
  });
}
