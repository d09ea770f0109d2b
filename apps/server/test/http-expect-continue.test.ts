/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1) on the client API's HTTP thread (src/http-worker.cts):
 * an upload it refuses before reading the body (no access token, or a declared length over the
 * limit) gets that final status instead of `100 Continue`, so the client never sends the body;
 * an upload with a valid token gets `100 Continue`, then its body is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';
import { openRawConnection, type RawConnection } from './raw-connection.ts';

let server: TestServer;
let alice: RegisteredUser;

beforeAll(async () => {
  server = await startTestServer();
  alice = await server.client.registerUser('alice');
});
afterAll(() => server.stop());

/** Sends `head` (a request without its body) on a raw connection to the server. */
const open = (head: string): Promise<RawConnection> =>
  openRawConnection(Number(new URL(server.url).port), head);

const uploadHead = (length: number, token?: string): string =>
  'POST /_matrix/media/v3/upload?filename=a.txt HTTP/1.1\r\nHost: x\r\n' +
  'Content-Type: text/plain\r\nExpect: 100-continue\r\n' +
  (token === undefined ? '' : `Authorization: Bearer ${token}\r\n`) +
  `Content-Length: ${length}\r\n\r\n`;

describe('Expect: 100-continue', () => {
  it('answers an anonymous upload 401 instead of 100 Continue', async () => {
    // Only the head is sent: the client waits for `100 Continue` before its body.
    const connection = await open(uploadHead(5));
    const answer = await connection.ended;
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"errcode":"M_MISSING_TOKEN"');
    expect(answer).not.toContain('100 Continue');
  });

  it('answers an upload over the limit 413 instead of 100 Continue', async () => {
    const connection = await open(uploadHead(10 ** 12, alice.accessToken));
    const answer = await connection.ended;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"errcode":"M_TOO_LARGE"');
    expect(answer).not.toContain('100 Continue');
  });

  it('answers 100 Continue to an upload with a token, then stores its body', async () => {
    const connection = await open(uploadHead(5, alice.accessToken));
    expect(await connection.until(/\r\n\r\n/)).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    connection.socket.write('hello');
    const answer = await connection.until(/"content_uri":"mxc:[^"]+"/);
    connection.socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    const mxc = /"content_uri":"mxc:\/\/([^"]+)"/.exec(answer)?.[1];
    const download = await fetch(`${server.url}/_matrix/client/v1/media/download/${mxc}`, {
      headers: { Authorization: `Bearer ${alice.accessToken}` },
    });
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('hello');
  });
});
