/**
 * Federation throughput (issue 6 target: ≥ 500 events/s): two servers in one process on loopback
 * with real TLS (test/federation-harness.ts), a room on A joined from B; N messages sent on A by
 * 20 concurrent clients requests; the clock runs from the first send until all N are in B's
 * timeline (stream positions assigned, i.e. visible to B's /sync).
 *
 * Run: `node --conditions=weft-source bench/federation-throughput.ts [N]` from apps/server.
 */
import { startFederation } from '../test/federation-harness.ts';

const N = Number(process.argv[2] ?? 1000);
const CONCURRENCY = 20;

const federation = await startFederation(['a.test', 'b.test']);
try {
  const a = federation.server('a.test');
  const b = federation.server('b.test');
  const alice = await a.client.registerUser('alice');
  const bob = await b.client.registerUser('bob');
  const created = await a.client.request('POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    body: { preset: 'public_chat' },
  });
  const roomId = String(created.body['room_id']);
  const joined = await b.client.request(
    'POST',
    `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=a.test`,
    { token: bob.accessToken, body: {} },
  );
  if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
  const countOnB = async () =>
    Number(
      (
        await b.services.ctx.db.queryOne<{ n: number }>(
          `SELECT COUNT(*) AS n FROM events WHERE room_id = $1 AND type = 'm.room.message'
             AND stream_position IS NOT NULL`,
          [roomId],
        )
      )?.n ?? 0,
    );
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const response = await a.client.request(
          'PUT',
          `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/b${i}`,
          { token: alice.accessToken, body: { msgtype: 'm.text', body: `message ${i}` } },
        );
        if (response.status !== 200) throw new Error(`send failed: ${response.status}`);
      }
    }),
  );
  const sent = performance.now();
  while ((await countOnB()) < N) await new Promise((resolve) => setTimeout(resolve, 5));
  const done = performance.now();
  const seconds = (done - start) / 1000;
  console.log(
    `federation throughput: ${N} events A→B in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} events/s ` +
      `(sending on A took ${((sent - start) / 1000).toFixed(2)} s; target ≥ 500 events/s)`,
  );
} finally {
  await federation.close();
}
