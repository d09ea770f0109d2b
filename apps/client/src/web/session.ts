/**
 * The logged-in account behind a `weft web` process: the `WeftClient` of its encrypted store,
 * its sync loop, and the live updates pushed to the open pages. Keys and plaintext stay in
 * this Node process; pages get views (`views.ts`) only.
 */
import type { RoomPolicy } from '@weft/epoch';

import { ClientError } from '../errors.ts';
import type { WeftClient } from '../sdk/client.ts';
import {
  type EventView,
  eventView,
  memberList,
  type RoomSummary,
  roomList,
  roomSummary,
  timelineView,
} from './views.ts';

/** A change pushed to the pages (server-sent events). */
export type WebUpdate =
  | { readonly type: 'rooms'; readonly rooms: RoomSummary[] }
  | { readonly type: 'timeline'; readonly roomId: string; readonly event: EventView }
  | {
      readonly type: 'status';
      readonly connected: boolean;
      /** The homeserver refused the access token: syncing stopped, log in again. */
      readonly loggedOut?: boolean;
    };

/** Events loaded per page of history. */
const FIRST_PAGE = 50;

export type UpdateListener = (update: WebUpdate) => void;

/** Sync backoff after a failed request: 250 ms doubling up to 10 s. */
function backoff(failures: number): number {
  return Math.min(10_000, 250 * 2 ** Math.min(failures, 6));
}

export interface LoginRequest {
  readonly homeserver: string;
  readonly user: string;
  readonly password: string;
  readonly register: boolean;
}

export class WebSession {
  readonly client: WeftClient;
  readonly homeserver: string;
  readonly #listeners = new Set<UpdateListener>();
  readonly #abort = new AbortController();
  /** Rooms whose first page of history was loaded in this session. */
  readonly #paged = new Set<string>();
  #loop: Promise<void> | undefined;
  #connected = true;
  #loggedOut = false;
  #stopTimeline: (() => void) | undefined;

  private constructor(client: WeftClient, homeserver: string) {
    this.client = client;
    this.homeserver = homeserver;
  }

  /** Continues a session the store already holds: the sync loop starts from the saved token. */
  static resume(client: WeftClient, homeserver: string): WebSession {
    return new WebSession(client, homeserver).#run();
  }

  /**
   * Logs in (or registers) on an opened store and runs the first sync far enough that the room
   * list is complete: the SDK applies every room's state before it appends any timeline (see
   * `syncOnce` in client.ts), so the first timeline event means names and policies are known.
   * The rest of that sync (timelines, decryption, storing) finishes behind the returned session,
   * whose loop continues from it; a failed first sync is retried by the loop.
   */
  static async login(
    client: WeftClient,
    homeserver: string,
    request: LoginRequest,
  ): Promise<WebSession> {
    if (request.register) await client.register(request.user, request.password);
    else await client.login(request.user, request.password);
    let statesApplied = () => {};
    const early = new Promise<void>((resolve) => {
      statesApplied = resolve;
    });
    const stopWatching = client.onTimeline(() => statesApplied());
    const first = client.syncOnce(0).finally(stopWatching);
    await Promise.race([first.catch(() => undefined), early]);
    return new WebSession(client, homeserver).#run(first);
  }

  #run(first: Promise<void> = Promise.resolve()): this {
    this.#stopTimeline = this.client.onTimeline((roomId, event) => {
      const view = eventView(event);
      if (view !== undefined) this.#push({ type: 'timeline', roomId, event: view });
    });
    this.#loop = this.#syncLoop(first);
    return this;
  }

  /** Runs after `first` (a sync already under way), so two syncs never run at once. */
  async #syncLoop(first: Promise<void>): Promise<void> {
    let failures = 0;
    // Its failure is handled like any other: the loop syncs again from the saved token.
    await first.then(
      () => this.pushRooms(),
      () => undefined,
    );
    while (!this.#abort.signal.aborted) {
      try {
        await this.client.syncOnce(30_000, this.#abort.signal);
        failures = 0;
        this.#setConnected(true);
        this.pushRooms();
      } catch (error) {
        if (this.#abort.signal.aborted) break;
        if (ClientError.isInstance(error) && error.code === 'logged-out') {
          // The token was revoked: retrying cannot help. The pages show it; a new login follows.
          this.#loggedOut = true;
          this.#connected = false;
          this.#push({ type: 'status', connected: false, loggedOut: true });
          break;
        }
        failures += 1;
        this.#setConnected(false);
        await new Promise((resolve) => setTimeout(resolve, backoff(failures)));
      }
    }
  }

  /** True once the homeserver refused the access token (the sync loop has stopped). */
  get loggedOut(): boolean {
    return this.#loggedOut;
  }

  /** False while syncing with the homeserver fails (the loop keeps retrying). */
  get connected(): boolean {
    return this.#connected;
  }

  #setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    this.#push({ type: 'status', connected });
  }

  /** Adds a listener of live updates; returns a function removing it. */
  subscribe(listener: UpdateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #push(update: WebUpdate): void {
    for (const listener of this.#listeners) listener(update);
  }

  /** Sends the current room list to every page (after a sync or a local change). */
  pushRooms(): void {
    if (this.#listeners.size > 0) this.#push({ type: 'rooms', rooms: this.rooms() });
  }

  rooms(): RoomSummary[] {
    return roomList(this.client);
  }

  /**
   * A room with its members and timeline. A joined room first shown with little history loads a
   * page of it from the server (a sync after a join brings only the events after it).
   * @throws ClientError `unknown-room`.
   */
  async room(roomId: string) {
    const room = this.client.room(roomId);
    if (
      room.membership === 'join' &&
      room.prevBatch !== undefined &&
      room.timeline.length < FIRST_PAGE &&
      !this.#paged.has(roomId)
    ) {
      this.#paged.add(roomId);
      // Best effort: offline, the room still opens with what the store holds.
      await this.client.loadOlder(roomId, FIRST_PAGE).catch(() => this.#paged.delete(roomId));
    }
    return {
      ...roomSummary(this.client, room),
      members: memberList(room),
      timeline: timelineView(room),
    };
  }

  /** Loads a page of older history; returns how many events came (0 at the room's start). */
  async loadOlder(roomId: string): Promise<number> {
    if (this.client.room(roomId).prevBatch === undefined) return 0;
    return this.client.loadOlder(roomId, FIRST_PAGE);
  }

  async createRoom(options: {
    name: string;
    policy: RoomPolicy['mode'] | null;
    invite: string[];
  }): Promise<string> {
    // The running sync loop brings the room's state (its name, members) right after this.
    const roomId = await this.client.createRoom(options);
    this.pushRooms();
    return roomId;
  }

  async join(roomId: string): Promise<void> {
    await this.client.join(roomId);
    this.pushRooms();
  }

  /** Sends a text message; the local echo and its status reach the pages as timeline updates. */
  async send(roomId: string, body: string): Promise<EventView | undefined> {
    if (this.client.room(roomId).membership !== 'join')
      throw new ClientError('send-failed', 'not a member of this room', { roomId });
    return eventView(await this.client.sendText(roomId, body));
  }

  /** Marks a room read: an `m.read` receipt for its latest event from someone else. */
  async markRead(roomId: string): Promise<void> {
    const room = this.client.room(roomId);
    const me = this.client.userId;
    const latest = room.timeline.findLast((e) => e.eventId !== undefined && e.sender !== me);
    if (latest?.eventId === undefined || room.receipts.get(me) === latest.eventId) return;
    // Counted as read at once; the server's copy of the receipt comes back with a later sync.
    room.receipts.set(me, latest.eventId);
    this.pushRooms();
    await this.client.sendReceipt(roomId, latest.eventId);
  }

  /** Stops syncing and closes the store. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#stopTimeline?.();
    await this.#loop;
    this.#listeners.clear();
    await this.client.close();
  }
}
