/**
 * The state-resolution `scenarios` vector format (../shared/vectors/README.md, state-res.json;
 * the file's `format_note` defines the walk). Any file of this shape runs without code changes.
 *
 * - kind `state_maps`: resolve(state_maps), with the scenario's events as the store, must equal
 *   `expected_resolved`.
 * - kind `dag`: walk the events in a topological order of `prev_events`; the state before an
 *   event is empty (no prev events), the state after its one prev event, or the resolution of
 *   the states after its prev events; the state after it adds the event if it is a state event.
 *   `expected_state_at[id]` is the state after `id`; `expected_final_state` the resolution of
 *   the states after every forward extremity (also checked against `forward_extremities` when
 *   the file gives them). Events are added without an auth check, as the note says; an event
 *   listed in `expected_rejected` is stored as rejected (it never becomes state) and must fail
 *   the authorization rules against the state before it or against its own auth events.
 */
import assert from 'node:assert/strict';

import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';

import {
  checkAuth,
  checkSoftFail,
  type DagEvent,
  eventFetcher,
  forwardExtremities,
  parseStateKey,
  type RoomVersionRules,
  resolveState,
  roomVersionRules,
  type StateKey,
  type StateMap,
  stateAfterEvent,
  stateBeforeEvent,
  stateKeyOf,
  topologicalOrder,
} from '../src/index.ts';

/** A state as the vector files write it: sorted `[type, state_key, event_id]` triples. */
export type StateTriples = readonly (readonly [string, string, string])[];

interface Scenario {
  readonly name: string;
  readonly origin: string;
  readonly room_version: string;
  readonly kind: 'dag' | 'state_maps';
  readonly events: readonly DagEvent[];
  readonly state_maps?: readonly StateTriples[];
  readonly expected_resolved?: StateTriples;
  readonly expected_state_at?: Readonly<Record<string, StateTriples>>;
  readonly expected_final_state?: StateTriples;
  readonly forward_extremities?: readonly string[];
  readonly expected_rejected?: readonly string[];
}

function isScenario(value: unknown): value is Scenario {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s['name'] === 'string' &&
    typeof s['room_version'] === 'string' &&
    (s['kind'] === 'dag' || s['kind'] === 'state_maps') &&
    Array.isArray(s['events'])
  );
}

/** Triples → state map. */
export function toStateMap(triples: StateTriples): Map<StateKey, string> {
  return new Map(triples.map(([type, stateKey, id]) => [stateKeyOf(type, stateKey), id]));
}

/** State map → sorted triples, for comparison with the file. */
export function toTriples(state: StateMap): [string, string, string][] {
  return [...state]
    .map(([key, id]): [string, string, string] => {
      const { type, stateKey } = parseStateKey(key);
      return [type, stateKey, id];
    })
    .sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]) || compare(a[2], b[2]));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedTriples(triples: StateTriples): [string, string, string][] {
  return toTriples(toStateMap(triples));
}

function rulesOf(s: Scenario): RoomVersionRules {
  const rules = roomVersionRules(s.room_version);
  assert.ok(rules, `room version ${s.room_version} is supported`);
  return rules;
}

/**
 * The format note: signatures are absent from these fixtures, so third-party invite signatures
 * count as valid.
 */
const FIXTURE_AUTH = { verifyThirdPartyInviteSignature: () => true } as const;

async function runStateMaps(s: Scenario): Promise<void> {
  assert.ok(s.state_maps && s.expected_resolved, 'state_maps scenario has state_maps');
  const resolved = await resolveState(
    rulesOf(s),
    s.state_maps.map(toStateMap),
    eventFetcher(s.events),
    undefined,
    FIXTURE_AUTH,
  );
  assert.deepEqual(toTriples(resolved), sortedTriples(s.expected_resolved));
}

async function runDag(s: Scenario): Promise<void> {
  const rules = rulesOf(s);
  // Events the file lists as rejected on receipt are stored as rejected: they never become state.
  const rejected = new Set(s.expected_rejected ?? []);
  const events = s.events.map((e) => (rejected.has(e.event_id) ? { ...e, rejected: true } : e));
  const fetch = eventFetcher(events);
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const after = new Map<string, Map<StateKey, string>>();
  for (const event of topologicalOrder(events)) {
    const prevStates = event.prev_events.map((id) => {
      const state = after.get(id);
      assert.ok(state, `${event.event_id}: prev event ${id} is in the scenario`);
      return state;
    });
    const before = await stateBeforeEvent(rules, prevStates, fetch, undefined, FIXTURE_AUTH);
    // Events are added without an auth check (the format note, Synapse test_v2 semantics); the
    // ones listed as rejected on receipt must indeed fail, against the state before them or
    // against their own auth events.
    if (rejected.has(event.event_id)) {
      const beforeEvents = new Map<StateKey, DagEvent>();
      for (const [key, id] of before) {
        const stateEvent = byId.get(id);
        if (stateEvent !== undefined) beforeEvents.set(key, stateEvent);
      }
      const ownAuth = new Map<StateKey, DagEvent>();
      for (const id of event.auth_events) {
        const authEvent = byId.get(id);
        if (authEvent?.state_key !== undefined) {
          ownAuth.set(stateKeyOf(authEvent.type, authEvent.state_key), authEvent);
        }
      }
      const againstState = checkSoftFail(event, beforeEvents, rules, FIXTURE_AUTH);
      const onReceipt = checkAuth(event, ownAuth, rules, {
        ...FIXTURE_AUTH,
        authEvent: (id) => byId.get(id),
      });
      assert.ok(
        !againstState.allowed || !onReceipt.allowed,
        `${event.event_id} is listed as rejected but passes the authorization rules`,
      );
    }
    after.set(event.event_id, stateAfterEvent(event, before));
  }
  for (const [id, expected] of Object.entries(s.expected_state_at ?? {})) {
    const state = after.get(id);
    assert.ok(state, `expected_state_at names ${id}, an event of the scenario`);
    assert.deepEqual(toTriples(state), sortedTriples(expected), `state after ${id}`);
  }
  // Forward extremity as the format note defines it: an event no other event cites.
  const extremities = forwardExtremities(events);
  if (s.forward_extremities !== undefined) {
    assert.deepEqual(extremities, [...s.forward_extremities].sort(), 'forward extremities');
  }
  if (s.expected_final_state !== undefined) {
    const final = await stateBeforeEvent(
      rules,
      extremities.map((id) => after.get(id) ?? new Map()),
      fetch,
      undefined,
      FIXTURE_AUTH,
    );
    assert.deepEqual(toTriples(final), sortedTriples(s.expected_final_state), 'final state');
  }
}

/** `state-res.json` `scenarios`: one case per scenario, named after its origin. */
export const stateResScenariosFormat: VectorFormat = {
  name: 'dag-state-res-scenarios',
  detect(file: VectorFile): boolean {
    const scenarios = file['scenarios'];
    return Array.isArray(scenarios) && scenarios.length > 0 && scenarios.every(isScenario);
  },
  cases(file: VectorFile): VectorCase[] {
    const scenarios = (file['scenarios'] as unknown[]).filter(isScenario);
    return scenarios.map((s, i) => ({
      name: `scenarios[${i}] ${s.name} (${s.origin})`,
      run: () => (s.kind === 'dag' ? runDag(s) : runStateMaps(s)),
    }));
  },
};
