/**
 * Federation: the client (signed HTTPS to other servers), the key cache, the receipt pipeline
 * for PDUs, inbound EDUs, and the outbound queue — plus the hook that queues every local event
 * for the other servers in its room (spec server-server-api).
 */
import type { ServerContext } from '../core/context.ts';
import type { RoomService } from '../rooms/index.ts';
import { FederationClient } from './client.ts';
import { type EduSources, sendLocalEdus } from './edus/outbound.ts';
import { EventHandler } from './event-handler/handle-pdu.ts';
import { ServerKeyStore } from './keys/key-store.ts';
import { roomDestinations, serverOf } from './sender/destinations.ts';
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

  constructor(ctx: ServerContext, rooms: RoomService, options: FederationServiceOptions = {}) {
    this.ctx = ctx;
    this.client = new FederationClient(ctx);
    this.keys = new ServerKeyStore(ctx, this.client);
    this.sender = new FederationSender(ctx, this.client, options.backoff);
    this.events = new EventHandler({ ctx, rooms, keys: this.keys, client: this.client });
    if (!ctx.config.federation.enabled) return;
    const self = ctx.config.serverName;
    rooms.onEventPersisted(async (tx, event) => {
      // Only events this server created go out; received ones came from their origin.
      if (serverOf(event.sender) !== self) return;
      const extra: string[] = [];
      if (event.type === 'm.room.member' && event.stateKey !== undefined) {
        extra.push(serverOf(event.stateKey));
      }
      const destinations = await roomDestinations(tx, event.roomId, self, extra);
      await this.sender.queuePdu(tx, destinations, event.pdu);
      // The listener runs inside the write transaction: deliver once it has committed.
      tx.afterCommit(() => {
        for (const destination of destinations) this.sender.wake(destination);
      });
    });
  }

  /** Sends local typing, receipts, device-list changes and to-device messages as EDUs. */
  connectEdus(sources: EduSources): void {
    if (this.ctx.config.federation.enabled) sendLocalEdus(this.ctx, this.sender, sources);
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
