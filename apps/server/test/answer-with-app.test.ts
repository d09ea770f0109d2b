/**
 * answerWithApp (src/answer-with-app.ts) hands each request the HTTP thread read to the Matrix
 * app's `answer`: the endpoint sees the body, headers and long-poll client it was sent with, the
 * answer comes back whole, and a failure around the app is a 500, logged.
 */
import { createMatrixApp, type MatrixApp } from '@weft/transport';
import { describe, expect, it } from 'vitest';

import { answerWithApp } from '../src/answer-with-app.ts';
import type { BridgedRequest, HttpAnswer } from '../src/http-thread.ts';
import type { Log } from '../src/log.ts';
import { silentLog } from '../src/log.ts';

const CLIENT = { gone: () => false, onGone: () => () => {} };

/** Runs one request through answerWithApp; returns the answer. */
async function answer(
  app: Pick<MatrixApp<unknown>, 'answer'>,
  request: Pick<BridgedRequest, 'method' | 'url' | 'rawHeaders' | 'body'>,
  log: Log = silentLog,
): Promise<HttpAnswer> {
  let answered: HttpAnswer | undefined;
  await answerWithApp(
    app,
    log,
  )({
    ...request,
    client: CLIENT,
    respond: (reply) => {
      answered = reply;
    },
  });
  if (answered === undefined) throw new Error('no answer');
  return answered;
}

function text(body: string | Uint8Array): string {
  return typeof body === 'string' ? body : new TextDecoder().decode(body);
}

describe('answerWithApp', () => {
  const app = createMatrixApp({});
  app.endpoint({
    method: 'PUT',
    path: '/echo/:id',
    auth: 'none',
    handler: ({ params, body, query, context }) => ({
      id: params.id,
      body,
      q: query.get('q'),
      type: context.req.header('content-type') ?? null,
      sameClient: (context.env as { client?: unknown }).client === CLIENT,
    }),
  });

  it('runs the endpoint on the body, headers and client the HTTP thread read', async () => {
    const bytes = new TextEncoder().encode('{"a\\n":"é","b":[1,2]}');
    // A view into a larger buffer, as a body may arrive.
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 4);
    const reply = await answer(app, {
      method: 'PUT',
      url: '/echo/x%3Ay?q=1',
      rawHeaders: ['Host', 'example.org', 'Content-Type', 'application/json'],
      body: padded.subarray(4, 4 + bytes.length),
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(text(reply.body))).toEqual({
      id: 'x:y',
      body: { 'a\n': 'é', b: [1, 2] },
      q: '1',
      type: 'application/json',
      sameClient: true,
    });
  });

  it('answers what no endpoint matches as the app does (404 without a body)', async () => {
    const reply = await answer(app, {
      method: 'GET',
      url: '/none',
      rawHeaders: [],
      body: undefined,
    });
    expect(reply.status).toBe(404);
    expect(JSON.parse(text(reply.body))).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('answers 500 M_UNKNOWN, and logs, when the app itself fails', async () => {
    const errors: unknown[] = [];
    const log = { ...silentLog, error: (message: string) => errors.push(message) } as Log;
    const failing = {
      answer: () => Promise.reject(new Error('broken')),
    };
    const reply = await answer(
      failing,
      { method: 'GET', url: '/x', rawHeaders: [], body: undefined },
      log,
    );
    expect(reply.status).toBe(500);
    expect(JSON.parse(text(reply.body))).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(errors).toEqual(['unhandled error answering a request']);
  });
});
