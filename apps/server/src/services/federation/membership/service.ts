/**
 * Federation membership (spec server-server-api "Joining Rooms", "Inviting to a room",
 * "Leaving Rooms"): the resident server's endpoints (templates, accepting signed joins and
 * leaves, receiving invites) and the client API's remote operations (joining a remote room,
 * inviting a remote user, rejecting a remote invite). The federation core is plugged in with
 * {@link FederationMembershipService.setFederation}; until then remote operations answer 404.
 */
import { MatrixError } from '@weft/transport';

import type { AccountService } from '../../accounts/service.ts';
import { loadRoom } from '../../rooms/room-store.ts';
import type { RoomService } from '../../rooms/service.ts';
import { erasedStateTexts } from '../visibility.ts';
import { acceptMembership } from './accept-membership.ts';
import { type MembershipTemplate, membershipTemplate } from './event-template.ts';
import { type JoinAnswerBody, type JoinAnswerPlan, joinAnswerBody } from './join-answer.ts';
import { receiveInvite, remoteInviteState } from './receive-invite.ts';
import { inviteRemoteUser } from './remote-invite.ts';
import { joinRemoteRoom } from './remote-join.ts';
import { knockRemoteRoom } from './remote-knock.ts';
import { rejectRemoteInvite } from './remote-leave.ts';
import type { FederationDeps } from './types.ts';

export class FederationMembershipService {
  readonly #rooms: RoomService;
  readonly #accounts: AccountService;
  #deps: FederationDeps | undefined;

  constructor(rooms: RoomService, accounts: AccountService) {
    this.#rooms = rooms;
    this.#accounts = accounts;
    // Invitees of rooms this server is not in see the state the inviting server sent.
    rooms.setInviteStateSource(async (roomId, userId) => {
      return (await remoteInviteState(rooms, roomId, userId))?.state;
    });
  }

  /** Plugs in the federation core (outbound requests and server keys). */
  setFederation(deps: FederationDeps): void {
    this.#deps = deps;
  }

  /** The federation core, or 404 when federation is off. */
  get deps(): FederationDeps {
    if (this.#deps === undefined) throw MatrixError.notFound('Federation is not available');
    return this.#deps;
  }

  /** Whether federation is plugged in. */
  get enabled(): boolean {
    return this.#deps !== undefined;
  }

  // --- The resident server's side ---

  /** `GET /v1/make_join/{roomId}/{userId}`. */
  makeJoin(
    origin: string,
    roomId: string,
    userId: string,
    versions: readonly string[],
  ): Promise<MembershipTemplate> {
    return membershipTemplate(this.#rooms, {
      origin,
      roomId,
      userId,
      membership: 'join',
      versions,
    });
  }

  /** `GET /v1/make_leave/{roomId}/{userId}`. */
  makeLeave(origin: string, roomId: string, userId: string): Promise<MembershipTemplate> {
    return membershipTemplate(this.#rooms, { origin, roomId, userId, membership: 'leave' });
  }

  /** `GET /v1/make_knock/{roomId}/{userId}` (spec server-server-api "Knocking upon a room"). */
  makeKnock(
    origin: string,
    roomId: string,
    userId: string,
    versions: readonly string[],
  ): Promise<MembershipTemplate> {
    return membershipTemplate(this.#rooms, {
      origin,
      roomId,
      userId,
      membership: 'knock',
      versions,
    });
  }

  /** `PUT /v1/send_knock/{roomId}/{eventId}`: answers the room's stripped state. */
  async sendKnock(
    origin: string,
    roomId: string,
    eventId: string,
    event: unknown,
  ): Promise<{ knock_room_state: unknown[] }> {
    return (await acceptMembership(this.#rooms, this.deps.keys, {
      origin,
      roomId,
      eventId,
      membership: 'knock',
      event,
      forward: this.deps.forwardAccepted,
    })) as { knock_room_state: unknown[] };
  }

  /** `PUT /v2/send_join/{roomId}/{eventId}`. */
  async sendJoin(
    origin: string,
    roomId: string,
    eventId: string,
    event: unknown,
  ): Promise<JoinAnswerBody> {
    // The transaction fixes the state before the join; its texts are read after the commit,
    // as the body is sent (join-answer.ts).
    const plan = (await acceptMembership(this.#rooms, this.deps.keys, {
      origin,
      roomId,
      eventId,
      membership: 'join',
      event,
      forward: this.deps.forwardAccepted,
    })) as JoinAnswerPlan;
    // An erased user's state events go out redacted, as from /state (federation/visibility.ts).
    const replaced = await erasedStateTexts(this.#rooms, roomId, origin);
    return { body: joinAnswerBody(this.#rooms.ctx.db, { ...plan, replaced }) };
  }

  /** `PUT /v2/send_leave/{roomId}/{eventId}`. */
  async sendLeave(
    origin: string,
    roomId: string,
    eventId: string,
    event: unknown,
  ): Promise<object> {
    return acceptMembership(this.#rooms, this.deps.keys, {
      origin,
      roomId,
      eventId,
      membership: 'leave',
      event,
      forward: this.deps.forwardAccepted,
    });
  }

  /** `PUT /v2/invite/{roomId}/{eventId}`. */
  invite(
    origin: string,
    roomId: string,
    eventId: string,
    body: Readonly<Record<string, unknown>>,
  ): Promise<{ event: Record<string, unknown> }> {
    return receiveInvite(
      this.#rooms,
      this.deps.keys,
      (userId) => this.#accounts.userExists(userId),
      { origin, roomId, eventId, body },
    );
  }

  // --- The client API's remote operations ---

  /**
   * Whether joining `roomId` must go through another server: this server does not have the
   * room's state (unknown room, or only a remote invite to it).
   */
  async needsRemoteJoin(roomId: string): Promise<boolean> {
    const room = await loadRoom(this.#rooms.ctx.db, roomId);
    return room?.currentStateGroup == null;
  }

  /** Joins local `userId` to a room on another server (see remote-join.ts). */
  async joinRemote(
    roomId: string,
    userId: string,
    via: readonly string[],
    reason?: string,
  ): Promise<string> {
    const invite = await remoteInviteState(this.#rooms, roomId, userId);
    const servers = invite === undefined ? via : [...via, invite.inviterServer];
    return joinRemoteRoom(this.#rooms, this.deps, { roomId, userId, via: servers, reason });
  }

  /** Knocks as local `userId` on a room this server is not in (see remote-knock.ts). */
  knockRemote(
    roomId: string,
    userId: string,
    via: readonly string[],
    reason?: string,
  ): Promise<string> {
    return knockRemoteRoom(this.#rooms, this.deps, { roomId, userId, via, reason });
  }

  /** Rejects local `userId`'s invite to a room this server is not in. */
  rejectInvite(roomId: string, userId: string, reason?: string): Promise<void> {
    return rejectRemoteInvite(this.#rooms, this.deps, { roomId, userId, reason });
  }

  /** Invites `target` (a user of another server) to local room `roomId`. */
  inviteRemote(options: {
    readonly roomId: string;
    readonly sender: string;
    readonly target: string;
    readonly reason?: string | undefined;
    readonly isDirect?: boolean | undefined;
  }): Promise<void> {
    return inviteRemoteUser(this.#rooms, this.deps, options);
  }
}
