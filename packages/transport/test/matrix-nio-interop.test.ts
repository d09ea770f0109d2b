/**
 * A real independent client against createMatrixApp: matrix-nio 0.20.1 (Debian
 * python3-matrix-nio) calls the legacy `/_matrix/client/r0/…` paths and sends its access token
 * as the `access_token` query parameter (../shared/TOOLCHAIN.md), which the app accepts as
 * Synapse does; nio must also understand our M_UNKNOWN_TOKEN error response.
 */
import { spawn } from 'node:child_process';

import { DEBIAN_PYTHON, requirePythonModule } from '@weft/interop';
import { createMatrixApp } from '@weft/transport';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { listen, type TestServer } from './serve.ts';

const sent: { room: string; type: string; body: Record<string, unknown>; sender: string }[] = [];
const app = createMatrixApp<string>({
  authenticateToken: (token) => (token === 'syt_nio' ? '@nio:example.org' : undefined),
});
for (const version of ['r0', 'v3']) {
  app
    .endpoint({
      method: 'GET',
      path: `/_matrix/client/${version}/account/whoami`,
      auth: 'user',
      handler: ({ user }) => ({ user_id: user, device_id: 'NIODEVICE' }),
    })
    .endpoint({
      method: 'PUT',
      path: `/_matrix/client/${version}/rooms/:roomId/send/:eventType/:txnId`,
      auth: 'user',
      handler: ({ params, body, user }) => {
        sent.push({ room: params.roomId, type: params.eventType, body, sender: user });
        return { event_id: `$event${sent.length}` };
      },
    });
}

const NIO_SCRIPT = `
import asyncio, json, sys
from nio import AsyncClient
data = json.load(sys.stdin)
async def main():
    client = AsyncClient(data["url"], data["user"])
    client.access_token = data["token"]
    client.user_id = data["user"]
    out = {}
    r = await client.whoami()
    out["whoami"] = [type(r).__name__, getattr(r, "user_id", None)]
    r = await client.room_send(data["room"], "m.room.message", {"msgtype": "m.text", "body": "hello from nio"})
    out["send"] = [type(r).__name__, getattr(r, "event_id", None)]
    client.access_token = "syt_wrong"
    r = await client.whoami()
    out["bad"] = [type(r).__name__, getattr(r, "status_code", None)]
    await client.close()
    print(json.dumps(out))
asyncio.run(main())
`;

// Asynchronous on purpose: the server runs in this process, so a blocking spawn would deadlock.
function runNio(input: unknown): Promise<Record<string, [string, string | null]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(DEBIAN_PYTHON, ['-c', NIO_SCRIPT]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`nio exited with ${code}: ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout) as Record<string, [string, string | null]>);
    });
    child.stdin.end(JSON.stringify(input));
  });
}

let server: TestServer;
beforeAll(async () => {
  requirePythonModule('nio', 'python3-matrix-nio');
  server = await listen(app.fetch);
});
afterAll(async () => {
  await server.close();
});

it('matrix-nio authenticates with the query parameter, sends an event and reads M_UNKNOWN_TOKEN', async () => {
  const result = await runNio({
    url: server.url,
    user: '@nio:example.org',
    token: 'syt_nio',
    room: '!room:example.org',
  });
  expect(result['whoami']).toEqual(['WhoamiResponse', '@nio:example.org']);
  expect(result['send']).toEqual(['RoomSendResponse', '$event1']);
  // nio exposes the errcode of the standard error response as `status_code`.
  expect(result['bad']).toEqual(['WhoamiError', 'M_UNKNOWN_TOKEN']);
  expect(sent).toEqual([
    {
      room: '!room:example.org',
      type: 'm.room.message',
      body: { msgtype: 'm.text', body: 'hello from nio' },
      sender: '@nio:example.org',
    },
  ]);
});
