/**
 * Local users' presence as `m.presence` EDUs (spec server-server-api "Presence": `{ push: [{
 * user_id, presence, last_active_ago, currently_active, status_msg }] }`; servers "should only
 * send presence updates for users that the receiving server would be interested in", such as a
 * server sharing a room with the user). Each announcement the presence service makes (a change,
 * or the periodic repeat of an unchanged state) goes to every other server with a member sharing
 * a joined room with the user, through the persisted per-destination queue.
 *
 * Batching: announcements made in one turn of the event loop (the sweep's periodic repeats), or
 * while earlier ones are being queued (a sweep idling user after user), are queued together, and a
 * user announced twice before then goes once, as last announced. The destinations come per room:
 * each room of the batch's users is asked once for its members' distinct servers (in SQL), not
 * every co-member of every user (a user of a 20,000-member room read 20,000 rows per change).
 *
 * Presence is state, not history: a destination's queue holds at most its latest `m.presence`
 * per user — an announcement replaces what is still pending for it (a server that is down would
 * otherwise collect a row per change and per 25-minute repeat, forever, and replay them all).
 */
import type { ServerContext } from '../../core/context.ts';
import type { PresenceContent, PresenceService } from '../../presence/service.ts';
import { joinedRoomsOfUsers, joinedServers } from '../../rooms/room-store.ts';
import type { FederationSender } from '../sender/queue.ts';

/** Users per EDU: a `push` entry is ≈ 150 bytes, so an EDU stays far below request limits. */
export const MAX_PRESENCE_PER_EDU = 100;

/** One `push` entry of an `m.presence` EDU. */
type PresenceUpdate = PresenceContent & { readonly user_id: string };

/** Queues `m.presence` EDUs for the local presence `presence` announces. */
export function sendLocalPresence(
  ctx: ServerContext,
  sender: Pick<FederationSender, 'queueSupersedingEdus'>,
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
    // Each room's servers once for the batch: the users of a sweep's repeats share rooms.
    const serversOfRoom = new Map<string, readonly string[]>();
    const updatesFor = new Map<string, PresenceUpdate[]>();
    for (const [userId, rooms] of await joinedRoomsOfUsers(ctx.db, [...batch.keys()])) {
      const servers = new Set<string>();
      for (const roomId of rooms) {
        let ofRoom = serversOfRoom.get(roomId);
        if (ofRoom === undefined) {
          ofRoom = await joinedServers(ctx.db, ctx.db.dialect, roomId);
          serversOfRoom.set(roomId, ofRoom);
        }
        for (const server of ofRoom) servers.add(server);
      }
      servers.delete(self);
      const update = { user_id: userId, ...(batch.get(userId) as PresenceContent) };
      for (const server of servers) {
        const updates = updatesFor.get(server) ?? [];
        updates.push(update);
        updatesFor.set(server, updates);
      }
    }
    const merges = new Map<string, (pending: unknown[]) => unknown[]>();
    for (const [server, updates] of updatesFor) {
      merges.set(server, (pending) => {
        // The pending updates, oldest first, then the batch's: the last of each user wins.
        const latest = new Map<string, PresenceUpdate>();
        for (const content of pending) {
          for (const update of (content as { push?: PresenceUpdate[] }).push ?? []) {
            latest.set(update.user_id, update);
          }
        }
        for (const update of updates) {
          latest.set(update.user_id, update);
        }
        const push = [...latest.values()];
        const contents: unknown[] = [];
        for (let i = 0; i < push.length; i += MAX_PRESENCE_PER_EDU) {
          contents.push({ push: push.slice(i, i + MAX_PRESENCE_PER_EDU) });
        }
        return contents;
      });
    }
    await sender.queueSupersedingEdus('m.presence', merges);
  };

  presence.onLocalPresence((userId, content) => {
    waiting.set(userId, content);
    if (queueing) return;
    queueing = true;
    // After this turn: the announcements made in it go in the same batch.
    queueMicrotask(() => void drain());
  });
}
