/**
 * `@weft/dag`: room versions as data, authorization rules, state resolution, DAG walks.
 *
 * The whole public API, in two sections.
 */

// --- Event model, room versions, authorization ---
export { type CheckAuthOptions, checkAuth } from './auth/check-auth.ts';
export type {
  AuthOutcome,
  AuthRejection,
} from './auth/outcome.ts';
export {
  powerLevelOf,
  requiredPowerLevel,
  roomCreators,
  senderPowerLevel,
} from './auth/power-levels.ts';
export { authEventsSelection } from './auth/selection.ts';
export { DagError, type DagErrorCode, type DagErrorContext } from './errors.ts';
export {
  type DagEvent,
  isStateEvent,
  parseStateKey,
  type StateKey,
  type StateMap,
  stateKeyOf,
} from './event.ts';
export {
  type AuthorizationRules,
  type EventFormatRules,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  type RoomVersionRules,
  roomVersionRules,
  STABLE_ROOM_VERSIONS,
  type StateResolutionRules,
} from './room-versions.ts';

// --- State resolution, DAG walks ---
