/**
 * answerWithApp (src/answer-with-app.ts) hands the app a `Request` that holds the body the HTTP
 * thread read: each way of reading it gives the same bytes, the body stream included, and the
 * app's answer comes back whole.
 */
import { describe, expect, it } from 'vitest';

import { type AppFetch, answerWithApp } from '../src/answer-with-app.ts';
import type { BridgedRequest, HttpAnswer } from '../src/http-thread.ts';
import { silentLog } from '../src/log.ts';

const TEXT = '{"a\\n":"é","b":[1,2]}';

/** Runs one request with `body` through answerWithApp and `fetch`; returns the answer. */
async function answer(fetch: AppFetch, body: Uint8Array | undefined): Promise<HttpAnswer> {
  let answered: HttpAnswer | undefined;
  const request: BridgedRequest = {
    method: body === undefined ? 'GET' : 'PUT',
    url: '/path?q=1',
    rawHeaders: ['Host', 'example.org', 'Content-Type', 'application/json'],
    body,
    client: { gone: () => false, onGone: () => () => {} },
    respond: (reply) => {
      answered = reply;
    },
  };
  await answerWithApp(fetch, '127.0.0.1', silentLog)(request);
  if (answered === undefined) throw new Error('no answer');
  return answered;
}

describe('answerWithApp', () => {
  it('reads the body the same every way: arrayBuffer, bytes, text, json, blob, body', async () => {
    const bytes = new TextEncoder().encode(TEXT);
    // A view into a larger buffer, as a body may arrive.
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 4);
    const views = [bytes, padded.subarray(4, 4 + bytes.length)];
    for (const view of views) {
      const read: unknown[] = [];
      await answer(async (request) => {
        const url = new URL(request.url);
        read.push(url.origin, url.pathname + url.search, request.method);
        read.push(new TextDecoder().decode(await request.arrayBuffer()));
        read.push(new TextDecoder().decode(await request.bytes()));
        read.push(await request.text());
        read.push(await request.json());
        const blob = await request.blob();
        read.push(blob.type, await blob.text());
        read.push(await new Response(request.body).text());
        return new Response('ok');
      }, view);
      expect(read).toEqual([
        'http://127.0.0.1',
        '/path?q=1',
        'PUT',
        TEXT,
        TEXT,
        TEXT,
        { 'a\n': 'é', b: [1, 2] },
        'application/json',
        TEXT,
        TEXT,
      ]);
    }
  });

  it('hands back the answer whole, and a request without a body has none', async () => {
    const reply = await answer(async (request) => {
      expect(request.body).toBeNull();
      return new Response('{"x":1}', { status: 201, headers: { 'X-Test': 'yes' } });
    }, undefined);
    expect(reply.status).toBe(201);
    expect(new TextDecoder().decode(reply.body as Uint8Array)).toBe('{"x":1}');
    expect(reply.headers).toContainEqual(['x-test', 'yes']);
  });
});
