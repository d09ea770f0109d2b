/**
 * parseJsonText reads back what the server stored, keys with escapes included: V8's JSON.parse
 * (Node 24.21) can decode such a key as another key it met before, and a stored PDU read with a
 * wrong key no longer matches its hashes. An end-to-end check stores such an event and reads it
 * back through the client API.
 */
import { parseJson } from '@weft/canonical-json';
import { describe, expect, it } from 'vitest';

import { parseJsonText } from '../src/json-text.ts';
import { startTestServer } from './harness.ts';

// Characters that JSON.stringify escapes (quote, backslash, controls) and some it does not.
const KEY_CHARS = ['a', '"', '\\', '\n', '\t', '\u0001', '/', 'é', '中'];

/** A deterministic generator (xorshift32), so a failure repeats. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function randomKey(next: () => number): string {
  let key = '';
  const length = Math.floor(next() * 4);
  for (let i = 0; i < length; i++) key += KEY_CHARS[Math.floor(next() * KEY_CHARS.length)];
  return key;
}

/** Random nested objects; with `floats`, some values are floats (events may not hold them). */
function randomObject(next: () => number, depth: number, floats = true): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  const size = 1 + Math.floor(next() * 3);
  for (let i = 0; i < size; i++) {
    const key = randomKey(next);
    const pick = next();
    // Strings, objects, and floats (account data holds them; they take another parsing path).
    object[key] =
      pick < 0.3 && depth > 0
        ? randomObject(next, depth - 1, floats)
        : pick < 0.7 || !floats
          ? key
          : next();
  }
  return object;
}

describe('parseJsonText', () => {
  it('reads every key with escapes as written, beside strings and floats (200,000 objects)', () => {
    const next = random(0x5eed);
    let wrong = 0;
    for (let i = 0; i < 200_000; i++) {
      const text = JSON.stringify(randomObject(next, 2));
      if (JSON.stringify(parseJsonText(text)) !== text) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('reads texts the strict parser refuses as JSON.parse does', () => {
    expect(parseJsonText('{"a\\n":1.5,"b\\t":9007199254740994}')).toEqual({
      'a\n': 1.5,
      'b\t': 2 ** 53 + 2,
    });
    expect(parseJsonText('{"k\\"":"\\ud800"}')).toEqual({ 'k"': '\ud800' });
    expect(parseJsonText('{"a":1,"a":2}')).toEqual({ a: 2 });
  });

  it('throws SyntaxError for text that is not JSON, with or without escapes', () => {
    expect(() => parseJsonText('{"a":')).toThrow(SyntaxError);
    expect(() => parseJsonText('{"a\\n":')).toThrow(SyntaxError);
  });
});

describe('stored events with escaped keys', () => {
  it('come back through /event after a restart with every key as sent', async () => {
    const first = await startTestServer();
    const alice = await first.client.registerUser('alice');
    const auth = { Authorization: `Bearer ${alice.accessToken}` };
    const created = await first.client.request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: {},
    });
    const roomId = encodeURIComponent(String(created.body['room_id']));
    const next = random(0xbeef);
    // Node 24.21 read the key `"` as `\` when it parsed the second shape after the first;
    // sent twice over, so either order of reading parses one after the other.
    const [slash, quote] = [
      { '': 0, '\\': 1 },
      { '': 0, '"': 1 },
    ];
    const contents: Record<string, unknown>[] = [slash, quote, slash, quote];
    for (let i = 0; i < 40; i++) {
      contents.push({
        msgtype: 'm.text',
        body: `message ${i}`,
        extra: randomObject(next, 2, false),
      });
    }
    const sent: { eventId: string; content: Record<string, unknown> }[] = [];
    for (const [i, content] of contents.entries()) {
      const answer = await first.client.request(
        'PUT',
        `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/t${i}`,
        { token: alice.accessToken, body: content },
      );
      expect(answer.status).toBe(200);
      sent.push({ eventId: String(answer.body['event_id']), content });
    }
    await first.stop();
    // A new process-level server on the same data directory reads the events from the database,
    // not from the event cache that the sends filled.
    const second = await startTestServer({ dataDir: first.dataDir });
    try {
      for (const { eventId, content } of sent) {
        const path = `/_matrix/client/v3/rooms/${roomId}/event/${encodeURIComponent(eventId)}`;
        const response = await fetch(second.url + path, { headers: auth });
        expect(response.status).toBe(200);
        // Read with the strict parser: this process's JSON.parse has the same engine bug.
        const event = parseJson(await response.text()) as { content: unknown };
        expect(JSON.stringify(event.content)).toBe(JSON.stringify(content));
      }
    } finally {
      await second.stop();
    }
  });
});
