/**
 * The server reads back what it stored, keys with escapes included (it reads stored JSON with
 * `parseAnyJson`): V8's JSON.parse (Node 24.21) can decode such a key as another key it met
 * before, and a stored PDU read with a wrong key no longer matches its hashes. The parser itself
 * is tested in packages/canonical-json/test/parse-any.test.ts.
 */
import { parseJson } from '@weft/canonical-json';
import { describe, expect, it } from 'vitest';

import { startTestServer } from './harness.ts';

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
    // Node 24.21 read the key `"` as `\` when it parsed the second shape after the first;
    // sent twice over, so either order of reading parses one after the other.
    const [slash, quote] = [
      { '': 0, '\\': 1 },
      { '': 0, '"': 1 },
    ];
    const contents: Record<string, unknown>[] = [
      slash,
      quote,
      slash,
      quote,
      { msgtype: 'm.text', body: 'nested', extra: { 'a\n': { '\t"': 'x' }, 'b\\': ['\u0001'] } },
      { msgtype: 'm.text', body: 'controls', 'k\u0001': 1, 'k\u0002': 2, 'é\n中': 'y' },
    ];
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
