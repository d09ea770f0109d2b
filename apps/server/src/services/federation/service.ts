/**
 * Federation: the client (signed HTTPS to other servers), the key cache, the receipt pipeline
 * for PDUs, inbound EDUs, and the outbound queue — plus the hook that queues every local event
 * for the other servers in its room (spec server-server-api).
 */

import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import type { RoomService } from '../rooms/index.ts';
import { joinedServers } from '../rooms/room-store.ts';
import type { StoredEvent } from '../rooms/types.ts';
import { FederationClient } from './client.ts';
import { type EduSources, sendLocalEdus } from './edus/outbound.ts';
import { EventHandler } from './event-handler/handle-pdu.ts';
import { ServerKeyStore } from './keys/key-store.ts';
import { destinationsAmong, destinationsOf, serverOf } from './sender/destinations.ts';
import { type BackoffPolicy, FederationSender } from './sender/queue.ts';

/** Options of {@link FederationService}. */
export interface FederationServiceOptions {
  readonly backoff?: BackoffPolicy;
}

/** The federation side of the server. */
export class FederationService {
  readonly ctx: ServerContext;
  readonly client: FederationClient;
  readonly keys: ServerKeyStore;
  readonly sender: FederationSender;
  readonly events: EventHandler;
  readonly #deliveredByResident = new Set<string>();
  readonly #rooms: RoomService;

  constructor(ctx: ServerContext, rooms: RoomService, options: FederationServiceOptions = {}) {
    this.ctx = ctx;
    this.#rooms = rooms;
    this.client = new FederationClient(ctx);
    this.keys = new ServerKeyStore(ctx, this.client);
    this.sender = new FederationSender(ctx, this.client, options.backoff);
    this.events = new EventHandler({ ctx, rooms, keys: this.keys, client: this.client });
    if (!ctx.config.federation.enabled) return;
    const self = ctx.config.serverName;
    rooms.onEventPersisted(async (tx, event) => {
      // Only events this server created go out; received ones came from their origin.
      if (serverOf(event.sender) !== self) return;
      // A join made through another server's send_join: that resident server sends it on.
      if (this.#deliveredByResident.delete(event.eventId)) return;
      const extra: string[] = [];
      if (event.type === 'm.room.member' && event.stateKey !== undefined) {
        extra.push(serverOf(event.stateKey));
      }
      const destinations = destinationsOf(await rooms.joinedMembers(tx, event.roomId), self, extra);
      await this.sender.queuePdu(tx, destinations, event.pdu);
      // The listener runs inside the write transaction: deliver once it has committed.
      tx.afterCommit(() => {
        for (const destination of destinations) this.sender.wake(destination);
      });
    });
  }

  /**
   * The resident server's forwarding of a join or leave it accepted through `send_join` /
   * `send_leave` (spec server-server-api "Joining Rooms": the resident server "will then send
   * the event to other servers in the room"): queued, inside the accepting transaction, for every
   * server in the room (and the target's) except this one and the origin, which already has it.
   */
  async forwardAccepted(tx: SqlExecutor, event: StoredEvent, origin: string): Promise<void> {
    if (!this.ctx.config.federation.enabled) return;
    // The servers in SQL, not every member ID: the joined-members cache cannot answer here (the
    // accepted event has just moved the room's state; its entry is stored after the commit).
    const servers = await joinedServers(tx, this.ctx.db.dialect, event.roomId);
    const extra = event.stateKey === undefined ? [] : [serverOf(event.stateKey)];
    const destinations = destinationsAmong(servers, this.ctx.config.serverName, extra).filter(
      (server) => server !== origin,
    );
    await this.sender.queuePdu(tx, destinations, event.pdu);
    tx.afterCommit(() => {
      for (const destination of destinations) this.sender.wake(destination);
    });
  }

  /**
   * Marks a local join about to be stored after `send_join`: the resident server forwards it to
   * the room, so this server's own fan-out would only send every other server a duplicate.
   */
  deliveredByResident(eventId: string): void {
    this.#deliveredByResident.add(eventId);
  }

  /** Sends local typing, receipts, device-list changes and to-device messages as EDUs. */
  connectEdus(sources: EduSources): void {
    if (this.ctx.config.federation.enabled) {
      sendLocalEdus(this.ctx, this.sender, sources, this.#rooms);
    }
  }

  /** Starts delivery of what was queued before a restart. */
  async start(): Promise<void> {
    if (this.ctx.config.federation.enabled) await this.sender.resume();
  }

  /** Stops outbound delivery (queued rows stay for the next start). */
  stop(): void {
    this.sender.stop();
  }
}
