/**
 * The HTTP thread (a worker thread started by http-thread.ts): it owns the client-server
 * listener and every socket on it — accepting connections, parsing requests, reading bodies and
 * writing answers — and hands each request to the main thread as a message, where the services
 * answer it. Under the sync load, socket reads and writes (kernel time on loopback included) and
 * Node's HTTP machinery were about a fifth of the main thread's time and the biggest part of a
 * long-poll answer's cost; here they run on the machine's other core (decision record of
 * session 8 in ARCHITECTURE.md).
 *
 * It requires Node's modules only, so it starts in a few milliseconds and runs the same from
 * source (Node strips the types) and from the build (`dist/http-worker.cjs`).
 *
 * Messages (http-thread.ts has the types): in, `response` (an answer for a request ID) and
 * `close`; out, `listening` / `listen-error` once, then `request` and `gone` (the client left
 * before its answer), and `closed` when the last connection has ended after a `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { HttpThreadOptions, ToHttpThread, ToMainThread } from './http-thread.ts';

// CommonJS, not a module: a worker started from an ES module file brings up Node's module
// loader, ≈ 8 MiB more resident memory per thread than this (measured at session 8's start).
const { createServer } = require('node:http') as typeof import('node:http');
const { parentPort, workerData } =
  require('node:worker_threads') as typeof import('node:worker_threads');

const port = parentPort;
if (port === null) throw new Error('http-worker.cts runs as a worker thread');
const options = workerData as HttpThreadOptions;

/** Requests handed to the main thread and not answered yet, by ID. */
const pending = new Map<number, ServerResponse>();
let nextId = 0;
let closing = false;

const post = (message: ToMainThread, transfer?: ArrayBuffer[]): void =>
  port.postMessage(message, transfer);

const server = createServer((request, response) => {
  const id = nextId++;
  pending.set(id, response);
  // A client that goes before its answer (a long-poll given up, a dropped connection): the main
  // thread stops waiting for it.
  response.once('close', () => {
    if (pending.delete(id)) post({ kind: 'gone', id });
  });
  if (request.method === 'GET' || request.method === 'HEAD') {
    post({
      kind: 'request',
      id,
      method: request.method,
      url: request.url ?? '/',
      rawHeaders: request.rawHeaders,
      remoteAddress: request.socket.remoteAddress ?? '',
    });
    return;
  }
  readBody(request, id, response);
});

/** The media upload paths, whose bodies may be as large as `maxUploadBytes`. */
const uploadPath = new RegExp(options.uploadPath);

/**
 * Reads a request's body, at most the client API's limit (media uploads: the upload limit; the
 * main thread checks each endpoint's own too): a bigger one is refused here, before it is all in
 * memory.
 */
function readBody(request: IncomingMessage, id: number, response: ServerResponse): void {
  const url = request.url ?? '/';
  const mark = url.indexOf('?');
  const limit = uploadPath.test(mark === -1 ? url : url.slice(0, mark))
    ? options.maxUploadBytes
    : options.maxBodyBytes;
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    refuseTooLarge(id, response);
    return;
  }
  const chunks: Buffer[] = [];
  let length = 0;
  request.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (length > limit) {
      request.removeAllListeners('data');
      request.removeAllListeners('end');
      chunks.length = 0;
      refuseTooLarge(id, response);
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    // A fresh buffer of its own (a single chunk may be a view into Node's pool) so it can be
    // transferred rather than copied.
    const body = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
    post(
      {
        kind: 'request',
        id,
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        rawHeaders: request.rawHeaders,
        remoteAddress: request.socket.remoteAddress ?? '',
        body,
      },
      [body.buffer],
    );
  });
  // A request stream error (the client reset the connection) ends in the response's `close`.
  request.on('error', () => {});
}

/**
 * Answers 413 `M_TOO_LARGE` (as transport would). The rest of the body is read and dropped, as
 * Node does with any body left unread once its answer is out, so the client sees the answer.
 */
function refuseTooLarge(id: number, response: ServerResponse): void {
  if (!pending.delete(id)) return;
  const { status, headers, body } = options.tooLarge;
  write(response, status, headers, body);
}

function write(
  response: ServerResponse,
  status: number,
  headers: readonly (readonly [string, string])[] | Readonly<Record<string, string>>,
  body: string | Uint8Array,
): void {
  if (response.destroyed) return;
  // Node sends `Connection: close` and ends the socket after this answer while closing.
  if (closing) response.shouldKeepAlive = false;
  // No length on answers that have no body (RFC 9110 §8.6: 1xx and 204 must not carry one;
  // 304 and HEAD would state the length of a body not sent: the app's own, if any, is kept).
  const bodiless = status < 200 || status === 204 || status === 304;
  const headOnly = response.req.method === 'HEAD';
  const length =
    bodiless || headOnly
      ? undefined
      : typeof body === 'string'
        ? Buffer.byteLength(body)
        : body.byteLength;
  response.writeHead(status, framed(headers, length, headOnly && !bodiless));
  response.end(bodiless || headOnly ? undefined : body);
}

/**
 * `headers` framed by this thread: the body's length when it has one (the main thread leaves
 * framing here), the app's own `Content-Length` only for HEAD (`keepLength`).
 */
function framed(
  headers: readonly (readonly [string, string])[] | Readonly<Record<string, string>>,
  length: number | undefined,
  keepLength: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Array.isArray(headers)
    ? (headers as readonly (readonly [string, string])[])
    : Object.entries(headers);
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') continue;
    if (lower === 'content-length' && !keepLength) continue;
    out[name] = value;
  }
  if (length !== undefined) out['Content-Length'] = String(length);
  return out;
}

port.on('message', (message: ToHttpThread) => {
  if (message.kind === 'response') {
    const response = pending.get(message.id);
    if (response === undefined) return; // The client went; its answer has nowhere to go.
    pending.delete(message.id);
    write(response, message.status, message.headers, message.body);
    return;
  }
  // close: stop accepting; connections end as their answers go out (`Connection: close`), idle
  // ones now.
  closing = true;
  server.close(() => post({ kind: 'closed' }));
  server.closeIdleConnections();
});

const listenFailed = (error: NodeJS.ErrnoException): void => {
  post({ kind: 'listen-error', message: error.message, code: error.code });
};
server.once('error', listenFailed);
server.listen(options.port, options.host, () => {
  server.removeListener('error', listenFailed);
  // Once listening, an error is a failed accept (EMFILE when descriptors run out, say): the
  // server goes on accepting, and the main thread logs it (unheard, it would end this thread).
  server.on('error', (error: NodeJS.ErrnoException) => {
    post({ kind: 'error', message: error.message, code: error.code });
  });
  post({ kind: 'listening', port: (server.address() as AddressInfo).port });
});
