/**
 * Test helper: serves a fetch handler on a real loopback port (port 0: the OS picks a free one)
 * with @hono/node-server, so tests talk HTTP over TCP exactly as a client would.
 */
import type { AddressInfo } from 'node:net';

import { serve } from '@hono/node-server';

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<TestServer> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            if ('closeAllConnections' in server) server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Reads a JSON response body (tests only: the server's output is trusted here). */
export async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  return JSON.parse(text) as Record<string, unknown>;
}
