/**
 * Room versions as data (spec content/rooms/*.md; design after ruma-common's
 * `room_version_rules.rs`).
 *
 * Each version is a frozen object built from the previous one by overriding named flags, so the
 * algorithms branch on behaviour ("are creators privileged?"), never on a version string. Only
 * versions 10, 11 and 12 are supported; earlier versions differ in ways (string power levels,
 * state resolution v1, legacy event IDs) this package does not implement.
 */

/** How a room version's events are shaped (rooms/vN.md "Event format"). */
export interface EventFormatRules {
  /**
   * `m.room.redaction` carries `redacts` inside `content` (v11+, MSC2174) instead of at the top
   * level.
   */
  readonly redactsInContent: boolean;
  /**
   * The create event carries no `room_id`; the room ID is `!` + the create event's reference hash
   * (v12, MSC4291).
   */
  readonly createEventHasNoRoomId: boolean;
}

/** Behaviour switches of the authorization rules (rooms/fragments/v*-auth-rules.md). */
export interface AuthorizationRules {
  /** `knock` membership and join rule exist (v7+). */
  readonly knocking: boolean;
  /** The `restricted` join rule exists (v8+). */
  readonly restrictedJoinRule: boolean;
  /** The `knock_restricted` join rule exists (v10+). */
  readonly knockRestrictedJoinRule: boolean;
  /** Power levels must be JSON integers, not strings (v10+). */
  readonly integerPowerLevels: boolean;
  /** `notifications` power levels are checked when `m.room.power_levels` changes (v6+). */
  readonly limitNotificationsPowerLevels: boolean;
  /**
   * The room creator is the create event's `sender`, not its `content.creator` (v11+,
   * MSC2175).
   */
  readonly useRoomCreateSender: boolean;
  /** `content.additional_creators` of the create event names further creators (v12, MSC4289). */
  readonly additionalRoomCreators: boolean;
  /**
   * Creators have a power level above every integer and must not appear in
   * `m.room.power_levels` `users` (v12, MSC4289).
   */
  readonly explicitlyPrivilegeRoomCreators: boolean;
  /**
   * The room ID is derived from the create event's ID, and the create event is implied by the
   * room ID rather than listed in `auth_events` (v12, MSC4291).
   */
  readonly roomCreateEventIdAsRoomId: boolean;
}

/** Which state resolution algorithm variant a room version uses. */
export interface StateResolutionRules {
  /**
   * Iterative auth checks start from an empty state map instead of the unconflicted state
   * (state resolution v2.1, rooms/v12.md, MSC4297).
   */
  readonly beginIterativeAuthChecksWithEmptyState: boolean;
  /**
   * The conflicted state subgraph is added to the full conflicted set (state resolution v2.1,
   * MSC4297).
   */
  readonly considerConflictedStateSubgraph: boolean;
}

/** Everything that differs between room versions, as one frozen object. */
export interface RoomVersionRules {
  /** The room version identifier, as in `m.room.create` `content.room_version`. */
  readonly id: string;
  /** Whether the spec lists this version as stable (servers may create rooms with it). */
  readonly stable: boolean;
  readonly eventFormat: EventFormatRules;
  readonly authorization: AuthorizationRules;
  readonly stateResolution: StateResolutionRules;
}

function freezeRules(rules: RoomVersionRules): RoomVersionRules {
  Object.freeze(rules.eventFormat);
  Object.freeze(rules.authorization);
  Object.freeze(rules.stateResolution);
  return Object.freeze(rules);
}

/** Room version 10 (spec content/rooms/v10.md): integer power levels, `knock_restricted`. */
export const ROOM_V10: RoomVersionRules = freezeRules({
  id: '10',
  stable: true,
  eventFormat: { redactsInContent: false, createEventHasNoRoomId: false },
  authorization: {
    knocking: true,
    restrictedJoinRule: true,
    knockRestrictedJoinRule: true,
    integerPowerLevels: true,
    limitNotificationsPowerLevels: true,
    useRoomCreateSender: false,
    additionalRoomCreators: false,
    explicitlyPrivilegeRoomCreators: false,
    roomCreateEventIdAsRoomId: false,
  },
  stateResolution: {
    beginIterativeAuthChecksWithEmptyState: false,
    considerConflictedStateSubgraph: false,
  },
});

/**
 * Room version 11 (spec content/rooms/v11.md): the creator is the create event's sender,
 * `redacts` moves into content.
 */
export const ROOM_V11: RoomVersionRules = freezeRules({
  ...ROOM_V10,
  id: '11',
  eventFormat: { ...ROOM_V10.eventFormat, redactsInContent: true },
  authorization: { ...ROOM_V10.authorization, useRoomCreateSender: true },
});

/**
 * Room version 12 (spec content/rooms/v12.md): privileged creators, room ID = create event
 * hash, state resolution v2.1.
 */
export const ROOM_V12: RoomVersionRules = freezeRules({
  ...ROOM_V11,
  id: '12',
  eventFormat: { ...ROOM_V11.eventFormat, createEventHasNoRoomId: true },
  authorization: {
    ...ROOM_V11.authorization,
    additionalRoomCreators: true,
    explicitlyPrivilegeRoomCreators: true,
    roomCreateEventIdAsRoomId: true,
  },
  stateResolution: {
    beginIterativeAuthChecksWithEmptyState: true,
    considerConflictedStateSubgraph: true,
  },
});

const REGISTRY: ReadonlyMap<string, RoomVersionRules> = new Map(
  [ROOM_V10, ROOM_V11, ROOM_V12].map((rules) => [rules.id, rules]),
);

/** The rules of room version `id`, or `undefined` when this package does not support it. */
export function roomVersionRules(id: string): RoomVersionRules | undefined {
  return REGISTRY.get(id);
}

/** IDs of the supported room versions the spec marks stable, oldest first. */
export const STABLE_ROOM_VERSIONS: readonly string[] = Object.freeze(
  [...REGISTRY.values()].filter((rules) => rules.stable).map((rules) => rules.id),
);
