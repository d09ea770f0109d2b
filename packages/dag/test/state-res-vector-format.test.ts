/**
 * The scenarios vector format itself (test/state-res-vector-format.ts): it detects files by
 * content, passes a consistent scenario and fails on a wrong expectation, a wrong rejection list
 * or an unknown prev event, so a vector file can never pass vacuously.
 */
import type { VectorFile } from '@weft/test-vectors';
import { describe, expect, it } from 'vitest';

import { parseStateKey, ROOM_V11, type StateMap } from '../src/index.ts';
import { TestRoom } from './state-res-room.ts';
import { stateResScenariosFormat } from './state-res-vector-format.ts';

const ALICE = '@alice:example.com';
const BOB = '@bob:example.com';

function triples(state: StateMap) {
  return [...state].map(([key, id]) => {
    const { type, stateKey } = parseStateKey(key);
    return [type, stateKey, id];
  });
}

/** A forked v11 room with one event (Bob's topic, no power) that fails authorization. */
async function scenarioFile(): Promise<{
  file: Record<string, unknown>;
  scenario: Record<string, unknown>;
}> {
  const room = await TestRoom.create(ROOM_V11);
  await room.add({
    type: 'm.room.member',
    sender: BOB,
    state_key: BOB,
    content: { membership: 'join' },
  });
  const base = [...room.extremities];
  const a = await room.add({
    type: 'm.room.name',
    sender: ALICE,
    state_key: '',
    content: { name: 'n' },
    prev: base,
  });
  const b = await room.add({
    type: 'm.room.topic',
    sender: ALICE,
    state_key: '',
    content: { topic: 't' },
    prev: base,
  });
  const bad = await room.add({
    type: 'm.room.topic',
    sender: BOB,
    state_key: '',
    content: { topic: 'x' },
    prev: [b.event_id],
  });
  expect(bad.rejected).toBe(true);
  const events = room.events.map(({ rejected: _, ...e }) => e);
  const final = await room.add({
    type: 'm.room.message',
    sender: ALICE,
    content: {},
    prev: [a.event_id, bad.event_id],
  });
  const scenario = {
    name: 'synthetic',
    origin: 'test',
    room_version: '11',
    kind: 'dag',
    events: [...events, final],
    expected_state_at: { [a.event_id]: triples(room.stateAfter(a.event_id)) },
    expected_final_state: triples(room.stateAfter(final.event_id)),
    expected_rejected: [bad.event_id],
  };
  return { file: { source: 'test', scenarios: [scenario] }, scenario };
}

async function runAll(file: Record<string, unknown>): Promise<void> {
  for (const c of stateResScenariosFormat.cases(file as VectorFile)) await c.run();
}

describe('state-res scenarios vector format', () => {
  it('detects scenario files by content only', () => {
    expect(stateResScenariosFormat.detect({ source: 'x', scenarios: [] } as VectorFile)).toBe(
      false,
    );
    expect(stateResScenariosFormat.detect({ source: 'x', cases: [{}] } as VectorFile)).toBe(false);
  });

  it('passes a consistent dag scenario with a rejected event', async () => {
    const { file } = await scenarioFile();
    expect(stateResScenariosFormat.detect(file as VectorFile)).toBe(true);
    await runAll(file);
  });

  it('fails when an expected state is wrong', async () => {
    const { file, scenario } = await scenarioFile();
    scenario['expected_final_state'] = [];
    await expect(runAll(file)).rejects.toThrow(/final state/);
  });

  it('fails when a rejected event is not listed, or an accepted one is', async () => {
    const { file, scenario } = await scenarioFile();
    scenario['expected_rejected'] = [];
    await expect(runAll(file)).rejects.toThrow(/final state/);
    const events = scenario['events'] as { event_id: string }[];
    scenario['expected_rejected'] = [events[1]?.event_id];
    await expect(runAll(file)).rejects.toThrow(/listed as rejected/);
  });

  it('fails on a prev event that is not in the scenario', async () => {
    const { file, scenario } = await scenarioFile();
    const events = scenario['events'] as { prev_events: string[] }[];
    const last = events[events.length - 1] as { prev_events: string[] };
    last.prev_events = [...last.prev_events, '$nowhere'];
    await expect(runAll(file)).rejects.toThrow(/prev event \$nowhere/);
  });
});
