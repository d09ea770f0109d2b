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
export { isValidServerName, isValidUserId } from './auth/user-id.ts';
// --- State resolution, DAG walks (./dag, ./state-res, ./soft-fail) ---
export { authChain, authChainDifference } from './dag/auth-chain.ts';
export { eventFetcher, type FetchEvents } from './dag/fetch.ts';
export { forwardExtremities, updateForwardExtremities } from './dag/forward-extremities.ts';
export { type MissingEvents, missingEvents } from './dag/missing-events.ts';
export { stateAfterEvent, stateBeforeEvent } from './dag/state-at-event.ts';
export { topologicalOrder } from './dag/topological-order.ts';
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
  checkPduFormat,
  MAX_PDU_BYTES,
  type PduFormatOptions,
} from './format.ts';
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
// --- State resolution, DAG walks (continued) ---
export { checkSoftFail } from './soft-fail.ts';
export { isPowerEvent } from './state-res/power-events.ts';
export {
  type AuthChainOf,
  type ResolveStateOptions,
  resolveState,
} from './state-res/resolve.ts';
export { createStateResolver, type StateResolver } from './state-res/resolver.ts';
