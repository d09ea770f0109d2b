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
 * Messages (http-thread.ts has the types): in, `responses` (answers for request IDs) and
 * `close`; out, `listening` / `listen-error` once, then `request` and `gone` (the client left
 * before its answer), and `closed` when the last connection has ended after a `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import type { HttpThreadOptions, ToHttpThread, ToMainThread } from './http-thread.ts';

// CommonJS, not a module: a worker started from an ES module file brings up Node's module
// loader, ≈ 8 MiB more resident memory per thread than this (measured at session 8's start).
const { createServer, STATUS_CODES } = require('node:http') as typeof import('node:http');
const { parentPort, workerData } =
  require('node:worker_threads') as typeof import('node:worker_threads');

const port = parentPort;
if (port === null) throw new Error('http-worker.cts runs as a worker thread');
const options = workerData as HttpThreadOptions;

/** Requests handed to the main thread and not answered yet, by ID. */
const pending = new Map<number, ServerResponse>();
let nextId = 0;
let closing = false;
/**
 * Body bytes held for requests not answered yet (read here, or handed to the main thread and
 * waiting there): past `maxInFlightBytes` a body is refused, so bodies can't exhaust memory.
 */
let inFlightBytes = 0;
const maxInFlightBytes = options.maxInFlightBytes ?? 4 * options.maxUploadBytes;
/** Answers of this thread's own (the main thread passes the server's; defaults for tests). */
const jsonHeaders: Readonly<Record<string, string>> = options.errorHeaders ?? {
  'Content-Type': 'application/json',
};
const errorAnswer = (status: number, errcode: string, error: string) => ({
  status,
  headers: jsonHeaders,
  body: JSON.stringify({ errcode, error }),
});
const missingToken =
  options.missingToken ?? errorAnswer(401, 'M_MISSING_TOKEN', 'Missing access token');
const busy =
  options.busy ?? errorAnswer(429, 'M_LIMIT_EXCEEDED', 'Too many request bodies in flight');

const post = (message: ToMainThread, transfer?: ArrayBuffer[]): void =>
  port.postMessage(message, transfer);

/**
 * Handles a request; `expectsContinue`: it carries `Expect: 100-continue` (its client waits for
 * `100 Continue` before sending the body), see the `checkContinue` listener.
 */
function onRequest(
  request: IncomingMessage,
  response: ServerResponse,
  expectsContinue = false,
): void {
  const id = nextId++;
  pending.set(id, response);
  if (request.method === 'GET' || request.method === 'HEAD') {
    if (expectsContinue) response.writeContinue();
    // A client that goes before its answer (a long-poll given up, a dropped connection): the
    // main thread stops waiting for it.
    response.once('close', () => {
      if (pending.delete(id)) post({ kind: 'gone', id });
    });
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
  readBody(request, id, response, expectsContinue);
}

const server = createServer(onRequest);
// Node answers `100 Continue` to every `Expect: 100-continue` unless told otherwise. Here it
// comes only once the body is wanted: a request this thread refuses before reading its body gets
// that final status instead (RFC 9110 §10.1.1: a server may answer with a final status code
// instead of 100), so the client does not send a body only to have it dropped.
server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) =>
  onRequest(request, response, true),
);

/** The media upload paths, whose bodies may be as large as `maxUploadBytes`. */
const uploadPath = new RegExp(options.uploadPath);

/**
 * Reads a request's body, at most the client API's limit (media uploads: the upload limit; the
 * main thread checks each endpoint's own too): a bigger one is refused here, before it is all in
 * memory. An upload without an access token is refused before any of its body is read (every
 * upload endpoint needs one: the main thread would answer the same), and a body that would take
 * the bytes in flight past `maxInFlightBytes` is refused with 429. The bytes count as in flight
 * until the request is answered or its client goes. A client that sent `Expect: 100-continue`
 * (`expectsContinue`) gets `100 Continue` only once none of these refusals applies.
 */
function readBody(
  request: IncomingMessage,
  id: number,
  response: ServerResponse,
  expectsContinue: boolean,
): void {
  let held = 0;
  response.once('close', () => {
    inFlightBytes -= held;
    held = 0;
    if (pending.delete(id)) post({ kind: 'gone', id });
  });
  const url = request.url ?? '/';
  const mark = url.indexOf('?');
  const upload = uploadPath.test(mark === -1 ? url : url.slice(0, mark));
  const limit = upload ? options.maxUploadBytes : options.maxBodyBytes;
  if (
    upload &&
    request.method !== 'OPTIONS' &&
    request.headers.authorization === undefined &&
    (mark === -1 || !url.includes('access_token=', mark))
  ) {
    refuse(id, request, response, missingToken);
    return;
  }
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    refuse(id, request, response, options.tooLarge);
    return;
  }
  if (declared !== undefined && inFlightBytes + Number(declared) > maxInFlightBytes) {
    refuse(id, request, response, busy);
    return;
  }
  // Not refused before its body: a client waiting for `100 Continue` may send it now.
  if (expectsContinue) response.writeContinue();
  const chunks: Buffer[] = [];
  let length = 0;
  request.on('data', (chunk: Buffer) => {
    length += chunk.length;
    const over = length > limit;
    if (over || inFlightBytes + chunk.length > maxInFlightBytes) {
      request.removeAllListeners('data');
      request.removeAllListeners('end');
      chunks.length = 0;
      inFlightBytes -= held;
      held = 0;
      refuse(id, request, response, over ? options.tooLarge : busy);
      return;
    }
    held += chunk.length;
    inFlightBytes += chunk.length;
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
    chunks.length = 0;
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
 * Answers a request whose body is not read (413 `M_TOO_LARGE`, 401 `M_MISSING_TOKEN`, 429
 * `M_LIMIT_EXCEEDED`) and closes its connection: `Connection: close`, and once the answer is
 * out the socket is ended and, after a short grace for the client to read the answer, destroyed —
 * so the rest of the body is not read (Node would read and drop it for as long as it came).
 */
function refuse(
  id: number,
  request: IncomingMessage,
  response: ServerResponse,
  answer: HttpThreadOptions['tooLarge'],
): void {
  if (!pending.delete(id)) return;
  const socket = request.socket;
  response.shouldKeepAlive = false;
  response.once('finish', () => closeSoon(socket));
  write(response, answer.status, answer.headers, answer.body);
}

/** How long a refused client gets to read its answer before its socket is destroyed. */
const REFUSED_GRACE_MS = 1000;

/**
 * Ends `socket` (FIN after the answer) and destroys it once the client has closed its side too,
 * or after {@link REFUSED_GRACE_MS}. Node would destroy it as soon as the answer is written, but a
 * connection closed with unread data is reset, and a reset can discard the answer before the
 * client reads it (a client still sending its body would see only a broken pipe): what comes
 * meanwhile is read and dropped.
 */
function closeSoon(socket: Socket): void {
  // Node's `destroySoon` (a `Connection: close` answer finished) destroys once the end is written.
  socket.removeListener('finish', socket.destroy);
  if (socket.destroyed) return;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
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
  if (message.kind === 'responses') {
    for (const answer of message.answers) {
      const response = pending.get(answer.id);
      if (response === undefined) continue; // The client went; its answer has nowhere to go.
      pending.delete(answer.id);
      write(response, answer.status, answer.headers, answer.body);
    }
    return;
  }
  if (message.kind === 'force') {
    // A second signal: every connection goes now.
    closing = true;
    server.closeAllConnections();
    return;
  }
  // close: stop accepting; connections end as their answers go out (`Connection: close`), idle
  // ones now. A connection still open after the shutdown deadline (a client trickling a body, an
  // answer the main thread never sends) is cut then.
  closing = true;
  server.close(() => post({ kind: 'closed' }));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000).unref();
});

server.maxConnections = options.maxConnections ?? 10_000;

/**
 * Requests Node's parser refuses (a header section over its limit, a malformed request line or
 * an unknown method) are answered as the server answers any error — the status with a Matrix
 * error body and the CORS headers — and the connection closed.
 */
server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? 413
          : 400;
  const errcode = status === 431 || status === 413 ? 'M_TOO_LARGE' : 'M_UNRECOGNIZED';
  const message =
    status === 431
      ? 'Request header fields too large'
      : status === 408
        ? 'Request timed out'
        : status === 413
          ? 'Request too large'
          : 'Malformed request';
  answerRaw(socket, status, errcode, message);
});

/**
 * CONNECT (which Node hands over as a tunnel, not a request; this thread knows no routes): its
 * target is a `host:port` (RFC 9110 §9.3.6, authority-form), no path this server serves, so it
 * gets the 404 `M_UNRECOGNIZED` of any unserved path (the router's 405 is for a served path); a
 * path target is no CONNECT request at all: 400 `M_UNRECOGNIZED`, as for what the parser refuses.
 */
server.on('connect', (request: IncomingMessage, socket: Socket) => {
  if (request.url?.startsWith('/') === true) {
    answerRaw(socket, 400, 'M_UNRECOGNIZED', 'Malformed request');
  } else {
    answerRaw(socket, 404, 'M_UNRECOGNIZED', 'Unrecognized request');
  }
});

/** Writes a whole error answer on a socket no `ServerResponse` owns, and closes it. */
function answerRaw(socket: Socket, status: number, errcode: string, message: string): void {
  const body = JSON.stringify({ errcode, error: message });
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(jsonHeaders)) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  socket.end(head + body);
  closeSoon(socket);
}

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
