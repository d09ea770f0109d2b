/**
 * `sync.answer_interval_ms` and `sync.event_wait_ms` (services/sync/service.ts `#pace`): a
 * long-polling device answered less than the interval ago gets the events of the rest of the
 * interval in one answer, unless its first new event has waited the event wait; another device
 * is answered at once; the settings are validated.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  buildConfig,
  ConfigError,
  DEFAULT_SYNC_ANSWER_INTERVAL_MS,
  DEFAULT_SYNC_EVENT_WAIT_MS,
  loadConfig,
} from '../src/config.ts';
import { startTestServer, type TestServer } from './harness.ts';
import {
  createRoom,
  type Json,
  loginDevice,
  messageBodies,
  sendText,
  sync,
  type TestUser,
} from './sync-helpers.ts';

describe('sync.answer_interval_ms and sync.event_wait_ms (config)', () => {
  const parse = (name: string, value: unknown) =>
    buildConfig({ sync: { [name]: value } }, { dataDir: '/tmp/x' }).sync;

  it('are written into the weft.yaml of a new data directory as the defaults say', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-sync-config-'));
    try {
      const config = loadConfig(['--data-dir', dataDir]);
      if (config === 'help') throw new Error('no --help given');
      // The file spells the values out, so it must say what the defaults are.
      const written = readFileSync(join(dataDir, 'weft.yaml'), 'utf8');
      expect(written).toContain(`answer_interval_ms: ${DEFAULT_SYNC_ANSWER_INTERVAL_MS}`);
      expect(written).toContain(`event_wait_ms: ${DEFAULT_SYNC_EVENT_WAIT_MS}`);
      expect(config.sync.answerIntervalMs).toBe(DEFAULT_SYNC_ANSWER_INTERVAL_MS);
      expect(config.sync.eventWaitMs).toBe(DEFAULT_SYNC_EVENT_WAIT_MS);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('default, accept 0 to 1000, and refuse anything else', () => {
    const defaults = buildConfig({}, { dataDir: '/tmp/x' }).sync;
    expect(defaults.answerIntervalMs).toBe(DEFAULT_SYNC_ANSWER_INTERVAL_MS);
    expect(defaults.eventWaitMs).toBe(DEFAULT_SYNC_EVENT_WAIT_MS);
    expect(parse('answer_interval_ms', 0).answerIntervalMs).toBe(0);
    expect(parse('answer_interval_ms', 1000).answerIntervalMs).toBe(1000);
    expect(parse('event_wait_ms', 0).eventWaitMs).toBe(0);
    expect(parse('event_wait_ms', 1000).eventWaitMs).toBe(1000);
    for (const name of ['answer_interval_ms', 'event_wait_ms']) {
      for (const bad of [-1, 1001, '25', true]) expect(() => parse(name, bad)).toThrow(ConfigError);
    }
  });
});

describe('/sync answer pacing', () => {
  // Long enough that the test's own sends fit well inside it on a loaded machine.
  const INTERVAL_MS = 1000;
  let server: TestServer;
  let alice: TestUser;
  let aliceOther: TestUser;
  let bob: TestUser;
  let roomId: string;

  beforeAll(async () => {
    // An event wait as long as the interval: only the interval and the timeline limit end holds.
    server = await startTestServer({
      file: { sync: { answer_interval_ms: INTERVAL_MS, event_wait_ms: INTERVAL_MS } },
    });
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    aliceOther = await loginDevice(server, alice.userId, 'OTHER');
    roomId = await createRoom(server, alice, [bob]);
  });
  afterAll(() => server.stop());

  const bodies = (response: Json) => messageBodies(response['rooms']['join'][roomId]?.['timeline']);

  it('holds a device answered within the interval and hands it the interval’s events together', async () => {
    const start = (await sync(server, alice))['next_batch'];
    await sendText(server, bob, roomId, 'one');
    const first = await sync(server, alice, { since: start, timeout: 10_000 });
    expect(bodies(first)).toEqual(['one']);
    const other = (await sync(server, aliceOther))['next_batch'];

    // Alice's device was just answered: its next long-poll waits out the interval. Her other
    // device was not answered since its initial sync, so it hears of "two" at once — before
    // "three" is even sent.
    const held = sync(server, alice, { since: first['next_batch'], timeout: 10_000 });
    let heldAnswered = false;
    void held.then(() => {
      heldAnswered = true;
    });
    const otherAnswer = sync(server, aliceOther, { since: other, timeout: 10_000 });
    await sendText(server, bob, roomId, 'two');
    const otherFirst = await otherAnswer;
    expect(bodies(otherFirst)).toEqual(['two']);
    expect(heldAnswered).toBe(false);
    await sendText(server, bob, roomId, 'three');

    expect(bodies(await held)).toEqual(['two', 'three']);
  });

  it('ends the hold once a room holds the timeline limit, so waiting never makes a gap', async () => {
    const filter = JSON.stringify({ room: { timeline: { limit: 3 } } });
    const start = (await sync(server, alice, { filter }))['next_batch'];
    await sendText(server, bob, roomId, 'a');
    const first = await sync(server, alice, { since: start, timeout: 10_000, filter });
    expect(bodies(first)).toEqual(['a']);

    // Answered just now: the next long-poll is held, but only until its room has three new
    // events; held for the whole interval (1 s), it would find four and answer `limited`.
    const held = sync(server, alice, { since: first['next_batch'], timeout: 10_000, filter });
    for (const body of ['b', 'c', 'd', 'e']) await sendText(server, bob, roomId, body);
    const answer = await held;
    expect(bodies(answer)).toEqual(['b', 'c', 'd']);
    expect(answer['rooms']['join'][roomId]['timeline']['limited']).toBe(false);
    const rest = await sync(server, alice, {
      since: answer['next_batch'],
      timeout: 10_000,
      filter,
    });
    expect(bodies(rest)).toEqual(['e']);
  });
});

describe('/sync event wait', () => {
  const INTERVAL_MS = 1000;
  const EVENT_WAIT_MS = 150;
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;

  beforeAll(async () => {
    server = await startTestServer({
      file: { sync: { answer_interval_ms: INTERVAL_MS, event_wait_ms: EVENT_WAIT_MS } },
    });
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    roomId = await createRoom(server, alice, [bob]);
  });
  afterAll(() => server.stop());

  it('answers a held device once its first new event has waited the event wait', async () => {
    const bodies = (response: Json) =>
      messageBodies(response['rooms']['join'][roomId]?.['timeline']);
    const start = (await sync(server, alice))['next_batch'];
    await sendText(server, bob, roomId, 'one');
    const first = await sync(server, alice, { since: start, timeout: 10_000 });
    expect(bodies(first)).toEqual(['one']);

    // Answered just now, so held; the new event ends the hold after the event wait, long before
    // the interval (1 s) is over.
    const held = sync(server, alice, { since: first['next_batch'], timeout: 10_000 });
    const sent = performance.now();
    await sendText(server, bob, roomId, 'two');
    const answer = await held;
    const waited = performance.now() - sent;
    expect(bodies(answer)).toEqual(['two']);
    expect(waited).toBeGreaterThanOrEqual(EVENT_WAIT_MS - 50);
    expect(waited).toBeLessThan(INTERVAL_MS - 100);
  });
});
