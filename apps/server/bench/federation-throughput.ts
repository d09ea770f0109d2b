/**
 * Federation throughput (issue 6 target: ≥ 500 events/s): two `weft-server` PROCESSES on
 * loopback with real TLS (certificates from test/federation-harness.ts's throwaway CA), a room
 * on A joined from B; N messages sent on A by 20 concurrent client requests; the clock runs from
 * the first send until all N are readable from B's client API (`/messages`).
 *
 * Run: `node --conditions=weft-source bench/federation-throughput.ts [N]` from apps/server.
 */
import { createTestCa, federationConfigYaml, issueCert } from '../test/federation-harness.ts';
import { TestClient } from '../test/harness.ts';
import { freePort, spawnServer } from '../test/spawn.ts';

const N = Number(process.argv[2] ?? 1000);
const CONCURRENCY = 20;

const ca = createTestCa();
const ports = {
  a: await freePort(),
  b: await freePort(),
  fa: await freePort(),
  fb: await freePort(),
};
const hosts = { 'a.test': `127.0.0.1:${ports.fa}`, 'b.test': `127.0.0.1:${ports.fb}` };
const [a, b] = await Promise.all([
  spawnServer({
    serverName: 'a.test',
    port: ports.a,
    configYaml: federationConfigYaml(ca, issueCert(ca, 'a.test'), ports.fa, hosts),
  }),
  spawnServer({
    serverName: 'b.test',
    port: ports.b,
    configYaml: federationConfigYaml(ca, issueCert(ca, 'b.test'), ports.fb, hosts),
  }),
]);
try {
  const clientA = new TestClient(a.url);
  const clientB = new TestClient(b.url);
  const alice = await clientA.registerUser('alice');
  const bob = await clientB.registerUser('bob');
  const created = await clientA.request('POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    body: { preset: 'public_chat' },
  });
  const room = encodeURIComponent(String(created.body['room_id']));
  const joined = await clientB.request(
    'POST',
    `/_matrix/client/v3/join/${room}?server_name=a.test`,
    {
      token: bob.accessToken,
      body: {},
    },
  );
  if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
  const countOnB = async (): Promise<number> => {
    const response = await clientB.request<{ chunk: Array<{ type: string }> }>(
      'GET',
      `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=${N + 50}`,
      { token: bob.accessToken },
    );
    return response.body.chunk.filter((event) => event.type === 'm.room.message').length;
  };
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const response = await clientA.request(
          'PUT',
          `/_matrix/client/v3/rooms/${room}/send/m.room.message/b${i}`,
          { token: alice.accessToken, body: { msgtype: 'm.text', body: `message ${i}` } },
        );
        if (response.status !== 200) throw new Error(`send failed: ${response.status}`);
      }
    }),
  );
  const sent = performance.now();
  while ((await countOnB()) < N) await new Promise((resolve) => setTimeout(resolve, 100));
  const done = performance.now();
  const seconds = (done - start) / 1000;
  console.log(
    `federation throughput: ${N} events A→B in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} events/s ` +
      `(sending on A: ${((sent - start) / 1000).toFixed(2)} s; target ≥ 500 events/s)`,
  );
} finally {
  await Promise.all([a.kill(), b.kill()]);
}
