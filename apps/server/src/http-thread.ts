/**
 * The main thread's side of the HTTP thread (http-worker.cts): starts it listening, turns each
 * request it hands over into a {@link BridgedRequest} for the server to answer, and sends the
 * answer back. The main thread keeps every piece of the server's logic and state; the HTTP
 * thread only moves bytes, so nothing is shared between them but these messages.
 */
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

import type { LongPollClient } from './services/sync/service.ts';
import { startWorkerThread } from './worker-start.ts';

/** What the HTTP thread is started with (its `workerData`). */
export interface HttpThreadOptions {
  readonly host: string;
  readonly port: number;
  /** The client API's body limit: a bigger body is refused by the HTTP thread. */
  readonly maxBodyBytes: number;
  /** The limit for paths matching `uploadPath` (a `RegExp` source), the media uploads. */
  readonly maxUploadBytes: number;
  readonly uploadPath: string;
  /** The answer to a body over `maxBodyBytes`. */
  readonly tooLarge: HttpAnswer;
  /** The answer to an upload without an access token (refused before its body is read). */
  readonly missingToken?: HttpAnswer;
  /**
   * Most body bytes held at once for requests not answered yet, across connections (default 4 ×
   * `maxUploadBytes`); a body past it is refused with `busy`.
   */
  readonly maxInFlightBytes?: number;
  /** The answer to a body refused for `maxInFlightBytes` (429 `M_LIMIT_EXCEEDED`). */
  readonly busy?: HttpAnswer;
  /** Most connections open at once (default 10,000); more are dropped as they come. */
  readonly maxConnections?: number;
  /**
   * How long `close` waits for connections to end before cutting them (default 10 s): a client
   * trickling a body must not hold the shutdown open.
   */
  readonly shutdownTimeoutMs?: number;
  /** Headers of the errors the thread answers itself (CORS, JSON content type). */
  readonly errorHeaders?: Readonly<Record<string, string>>;
}

/** An answer as the HTTP thread writes it (it adds `Content-Length`). */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[] | Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

/** Messages from the HTTP thread. */
export type ToMainThread =
  | {
      readonly kind: 'request';
      readonly id: number;
      readonly method: string;
      readonly url: string;
      /** Node's `rawHeaders`: names and values alternating, as received. */
      readonly rawHeaders: readonly string[];
      /** The peer's address (the socket's `remoteAddress`; empty if the socket had none). */
      readonly remoteAddress: string;
      /** Absent for GET and HEAD. */
      readonly body?: Uint8Array;
    }
  | { readonly kind: 'gone'; readonly id: number }
  | { readonly kind: 'listening'; readonly port: number }
  | { readonly kind: 'listen-error'; readonly message: string; readonly code?: string | undefined }
  /** An error after listening (a failed accept); the thread goes on serving. */
  | { readonly kind: 'error'; readonly message: string; readonly code?: string | undefined }
  | { readonly kind: 'closed' };

/** An answer and the ID of the request it answers. */
export type IdentifiedAnswer = { readonly id: number } & HttpAnswer;

/** Messages to the HTTP thread. */
export type ToHttpThread =
  /** The answers given in one turn of the main thread's event loop, each for its request ID. */
  | { readonly kind: 'responses'; readonly answers: readonly IdentifiedAnswer[] }
  | { readonly kind: 'close' }
  /** Cut every connection now (a second signal during shutdown). */
  | { readonly kind: 'force' };

/** A request as the HTTP thread handed it over, with the way to answer it. */
export interface BridgedRequest {
  readonly method: string;
  /** The request target: path and query. */
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly body: Uint8Array | undefined;
  /** The peer's address, for per-address rate limits (absent: unknown). */
  readonly remoteAddress?: string | undefined;
  /** The client, for long-polls: gone once its connection closed before the answer. */
  readonly client: LongPollClient;
  /**
   * Sends the answer (once; later calls, or calls after the client went, do nothing). A byte
   * body that spans its whole buffer is handed over, not copied, when the turn ends: it must not
   * be changed or answered again.
   */
  respond(answer: HttpAnswer): void;
}

/** The client of one request: told by the HTTP thread when its connection goes. */
class BridgedClient implements LongPollClient {
  #gone = false;
  #listeners: (() => void)[] | undefined;

  gone(): boolean {
    return this.#gone;
  }

  onGone(listener: () => void): () => void {
    this.#listeners ??= [];
    this.#listeners.push(listener);
    return () => {
      const listeners = this.#listeners;
      const at = listeners?.indexOf(listener) ?? -1;
      if (at !== -1) listeners?.splice(at, 1);
    };
  }

  /** The connection went: every listener hears it once. */
  leave(): void {
    this.#gone = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }
}

export interface HttpThread {
  readonly port: number;
  /**
   * Stops accepting, lets answers in flight go out (for at most `shutdownTimeoutMs`), and ends
   * the thread.
   */
  close(): Promise<void>;
  /** During `close`: cuts every connection now instead of waiting for them. */
  force(): void;
}

/** The answer to a request whose own answer could not be handed to the thread. */
const UNSENDABLE: HttpAnswer = {
  status: 500,
  headers: { 'Content-Type': 'application/json' },
  body: '{"errcode":"M_UNKNOWN","error":"Internal server error"}',
};

/**
 * The HTTP thread's V8 semi-space size, in MiB, fixed (its minimum and maximum; see
 * `startWorker`). A 1 MiB limit (sessions 15–19) scavenged every few milliseconds, sooner than a
 * held long-poll ends, so each request's objects were copied and promoted: under the sync load
 * the thread spent 180–280 ms of 3 s in its collections, ≈ 6–8% of a core; at 4 MiB 20–50 ms.
 * The minimum too: with only the limit raised, V8 sometimes left the space small for a whole
 * run (record "session 20 — the HTTP thread's young generation" in ARCHITECTURE.md). The
 * settled memory reading did not move.
 */
const HTTP_THREAD_SEMI_SPACE_MIB = 4;

/**
 * The process's own `--min-semi-space-size` and `--max-semi-space-size` back (0, V8's default,
 * where it set none).
 */
function restoreSemiSpaceFlags(): void {
  // As given on the command line or in NODE_OPTIONS (which come first), in either spelling.
  const given = [...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/), ...process.execArgv];
  for (const bound of ['min', 'max']) {
    const pattern = new RegExp(`^--${bound}[-_]semi[-_]space[-_]size=\\d+$`);
    setFlagsFromString(
      given.findLast((arg) => pattern.test(arg)) ?? `--${bound}-semi-space-size=0`,
    );
  }
}

/** Where the worker's module is: beside this one, from source and in the build (tsup.config.ts). */
function workerUrl(): URL {
  const file = import.meta.url.endsWith('.ts') ? './http-worker.cts' : './http-worker.cjs';
  return new URL(file, import.meta.url);
}

/** What the server hears from the HTTP thread besides requests. */
export interface HttpThreadEvents {
  /** The thread ended other than by `close()`: no client request is served any more. */
  exited(error: unknown): void;
  /** An error the thread survived (a failed accept, an answer that could not be handed over). */
  failed(error: Error): void;
}

/**
 * Starts the HTTP thread and resolves once it listens (rejects as `listen` would: an error with
 * its `code`, e.g. `EADDRINUSE`). Each request goes to `handle`.
 */
export async function startHttpThread(
  options: HttpThreadOptions,
  handle: (request: BridgedRequest) => void,
  events: HttpThreadEvents,
): Promise<HttpThread> {
  const thread = startWorker(options);
  const clients = new Map<number, BridgedClient>();
  let closing: Promise<void> | undefined;
  let exited = false;
  let closed: () => void = () => {};

  // Answers go to the HTTP thread in one message per turn of the event loop, not one each: the
  // long-polls a timer releases together, and a group commit's sends, are answered in the same
  // turn, and every message costs a wake-up of the other thread (an eventfd write, often a
  // context switch on this 2-core machine). Sent on `setImmediate`, after the turn's other work:
  // sync load p99 54.9–59.1 against 59.9–65.9 ms at the same throughput, five alternated pairs
  // (ARCHITECTURE.md, record "session 16 — answers batched per turn").
  let batch: IdentifiedAnswer[] = [];
  let batchTransfer: ArrayBuffer[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const answers = batch;
    const transfer = batchTransfer;
    batch = [];
    batchTransfer = [];
    if (exited) return;
    try {
      thread.postMessage({ kind: 'responses', answers } satisfies ToHttpThread, transfer);
    } catch (error) {
      // An answer that cannot be handed over (a body whose buffer went to the thread already)
      // must not take the turn's other answers, or the process, with it: each goes alone,
      // copied, and one that still fails is answered 500.
      events.failed(error instanceof Error ? error : new Error(String(error)));
      for (const answer of answers) {
        try {
          thread.postMessage({ kind: 'responses', answers: [answer] } satisfies ToHttpThread);
        } catch {
          thread.postMessage({
            kind: 'responses',
            answers: [{ id: answer.id, ...UNSENDABLE }],
          } satisfies ToHttpThread);
        }
      }
    }
  };
  const requestOf = (
    message: Extract<ToMainThread, { kind: 'request' }>,
    client: BridgedClient,
  ): BridgedRequest => {
    let answered = false;
    return {
      method: message.method,
      url: message.url,
      rawHeaders: message.rawHeaders,
      body: message.body,
      remoteAddress: message.remoteAddress === '' ? undefined : message.remoteAddress,
      client,
      respond(answer) {
        if (answered) return;
        answered = true;
        clients.delete(message.id);
        if (client.gone()) return;
        const transfer =
          typeof answer.body !== 'string' && isWholeBuffer(answer.body)
            ? [answer.body.buffer as ArrayBuffer]
            : undefined;
        batch.push({
          id: message.id,
          status: answer.status,
          headers: answer.headers,
          body: answer.body,
        });
        // A buffer listed twice would make the whole message fail to send.
        for (const buffer of transfer ?? []) {
          if (!batchTransfer.includes(buffer)) batchTransfer.push(buffer);
        }
        if (batch.length === 1) setImmediate(flush);
      },
    };
  };

  const port = await new Promise<number>((resolve, reject) => {
    thread.on('message', (message: ToMainThread) => {
      switch (message.kind) {
        case 'request': {
          const client = new BridgedClient();
          clients.set(message.id, client);
          handle(requestOf(message, client));
          return;
        }
        case 'gone': {
          const client = clients.get(message.id);
          clients.delete(message.id);
          client?.leave();
          return;
        }
        case 'listening':
          resolve(message.port);
          return;
        case 'listen-error': {
          const error = Object.assign(new Error(message.message), { code: message.code });
          closing = Promise.resolve(); // Not a thread lost while serving: startServer rejects.
          void thread.terminate();
          reject(error);
          return;
        }
        case 'error':
          events.failed(Object.assign(new Error(message.message), { code: message.code }));
          return;
        case 'closed':
          closed();
          return;
      }
    });
    let failure: unknown;
    thread.once('error', (error) => {
      failure = error;
      reject(error);
    });
    thread.once('exit', (code) => {
      exited = true;
      // Whatever was waiting on this thread's clients hears they went.
      for (const client of clients.values()) client.leave();
      clients.clear();
      closed();
      const error = failure ?? new Error(`the HTTP thread exited with code ${code}`);
      reject(error);
      if (closing === undefined) events.exited(error);
    });
  });

  return {
    port,
    close() {
      // A thread that has gone has nothing left to close (and would never answer `close`).
      if (exited) closing ??= Promise.resolve();
      closing ??= new Promise<void>((resolve) => {
        closed = resolve;
        flush();
        thread.postMessage({ kind: 'close' } satisfies ToHttpThread);
      }).then(() => thread.terminate().then(() => undefined));
      return closing;
    },
    force() {
      if (exited || closing === undefined) return;
      flush();
      thread.postMessage({ kind: 'force' } satisfies ToHttpThread);
    },
  };
}

/**
 * Starts the worker. Its young generation: V8 sizes an isolate's semi-spaces from the
 * process's `--max-semi-space-size` when it creates it (the flag overrides a worker's
 * `resourceLimits`), so the flag is set while the thread starts, then put back for later
 * isolates (the verification workers of federation joins).
 */
function startWorker(options: HttpThreadOptions): Worker {
  setFlagsFromString(`--min-semi-space-size=${HTTP_THREAD_SEMI_SPACE_MIB}`);
  setFlagsFromString(`--max-semi-space-size=${HTTP_THREAD_SEMI_SPACE_MIB}`);
  let thread: Worker;
  try {
    // It needs none of the process's flags.
    thread = startWorkerThread(workerUrl(), { workerData: options }, []);
  } catch (error) {
    restoreSemiSpaceFlags();
    throw error;
  }
  thread.once('online', restoreSemiSpaceFlags);
  thread.once('exit', restoreSemiSpaceFlags);
  return thread;
}

/** Whether `bytes` spans its whole buffer (only then can the buffer be handed over). */
function isWholeBuffer(bytes: Uint8Array): boolean {
  return (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    !(bytes.buffer instanceof SharedArrayBuffer)
  );
}
