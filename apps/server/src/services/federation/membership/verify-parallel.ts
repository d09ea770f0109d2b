/**
 * Checking a big send_join answer on every core: the per-PDU checks (event ID, format,
 * signatures, content hash — verify-pdu.ts) run on this thread and on worker threads
 * (verify-worker.ts) at once, each taking the next chunk of PDUs when it is done with its last,
 * so a slow or busy thread simply takes fewer; the authorization walk runs here, as it needs
 * every event: as each chunk's outcomes come (verify-room-state.ts `AuthWalk`), and what is left
 * after the last chunk (`acceptByAuthRules`). Ed25519 verification is most of
 * a join's CPU time (≈ 90 µs a signature: a 30,000-event state is ≈ 2.7 s of one core), and it
 * is independent per event, so this is where more cores pay.
 *
 * Small answers (< {@link PARALLEL_MIN_EVENTS}) are checked in this thread alone; so is
 * everything on a single core, or when a worker cannot start: same verdicts, one core.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';

import type { RoomVersionRules } from '@weft/dag';
import type { KeyLookup } from '@weft/signing';

import { startWorkerThread } from '../../../worker-start.ts';
import { PduFeed } from './pdu-feed.ts';
import { checkPduOutcome, type VerifyOutcome } from './verify-pdu.ts';
import type { VerifiedPdu } from './verify-received.ts';
import {
  AuthWalk,
  acceptByAuthRules,
  type VerifiedRoomState,
  verifyRoomState,
} from './verify-room-state.ts';
import type { VerifyJob } from './verify-worker.ts';

/** Below this many PDUs, starting workers costs more than it saves. */
export const PARALLEL_MIN_EVENTS = 2_000;
const MAX_WORKERS = 4;
const SOURCE_CONDITION = '--conditions=weft-source';
/**
 * PDUs a worker takes at a time (one message each way), and this thread between two yields: a
 * worker's answer waits at most one of this thread's chunks (≈ 10 ms) for its next chunk —
 * now a worker has its next chunk queued anyway (two jobs in flight).
 */
const WORKER_CHUNK = 256;
/** Jobs a worker holds at once (answered in order): its next chunks wait in its queue. */
const JOBS_HELD = 2;
const MAIN_CHUNK = 64;

/**
 * Worker threads to help this thread: one per other core, at most {@link MAX_WORKERS}. Earlier
 * (2026-11-29) workers ran only when two cores were idle, as the main thread sat waiting and a
 * cold worker on a busy core lost more than it gained (3.4 s in-thread against 4.2–4.8 s on 2
 * workers at load ≈ 5 on 2 cores); now this thread verifies too and chunks go to whichever
 * thread is free, so a worker that gets little CPU only takes few chunks.
 */
function helperWorkers(): number {
  return Math.max(0, Math.min(MAX_WORKERS, availableParallelism() - 1));
}

/**
 * Where the PDUs that passed the per-PDU checks go as they come (store-outliers.ts writes them
 * while the rest is checked). Only big answers, checked with workers, use it.
 */
export interface VerifiedPduSink {
  /** PDUs that passed the per-PDU checks (the authorization rules come after). */
  add(pdus: readonly VerifiedPdu[]): void;
  /**
   * One step of the sink's own work, run on this thread between its chunks; false when idle.
   * `drain`: there is nothing left to check here, so write even a part batch now rather than
   * after the check, when it would hold the end up alone.
   */
  step(drain?: boolean): Promise<boolean>;
}

/** `verifyRoomState` with the per-PDU checks spread over worker threads. */
export async function verifyRoomStateParallel(
  state: readonly unknown[],
  authChain: readonly unknown[],
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
  /** Worker threads verifying alongside this thread. */
  workers = helperWorkers(),
  /** `throw` only in tests, to prove the workers ran rather than the fallback. */
  onWorkerFailure: 'fallback' | 'throw' = 'fallback',
  sink?: VerifiedPduSink,
): Promise<VerifiedRoomState> {
  if (state.length + authChain.length < PARALLEL_MIN_EVENTS || workers < 1) {
    return verifyRoomState(state, authChain, rules, keyLookup);
  }
  return verifyFeed(PduFeed.of(state, authChain), rules, keyLookup, workers, onWorkerFailure, sink);
}

/**
 * `verifyRoomStateParallel` of an answer still arriving (send-join-body.ts → `feed`): chunks go
 * to this thread and the workers as soon as they are released, so the check runs while the
 * rest of the body is on the wire. An answer that ends below {@link PARALLEL_MIN_EVENTS} PDUs
 * is checked in-thread once it is whole; a failed body fails the check with its error.
 */
export async function verifyStreamedRoomState(
  feed: PduFeed,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
  workers = helperWorkers(),
  onWorkerFailure: 'fallback' | 'throw' = 'fallback',
  sink?: VerifiedPduSink,
): Promise<VerifiedRoomState> {
  await feed.waitFor(PARALLEL_MIN_EVENTS);
  if (feed.pdus.length < PARALLEL_MIN_EVENTS || workers < 1)
    return verifyWhole(feed, rules, keyLookup);
  return verifyFeed(feed, rules, keyLookup, workers, onWorkerFailure, sink);
}

/** The in-thread check of the whole answer in `feed` (waits for its end). */
async function verifyWhole(
  feed: PduFeed,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
): Promise<VerifiedRoomState> {
  await feed.waitFor(Number.POSITIVE_INFINITY);
  const state = feed.pdus.filter((_, i) => feed.inState[i]);
  const authChain = feed.pdus.filter((_, i) => !feed.inState[i]);
  return verifyRoomState(state, authChain, rules, keyLookup);
}

async function verifyFeed(
  feed: PduFeed,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
  workers: number,
  onWorkerFailure: 'fallback' | 'throw',
  sink: VerifiedPduSink | undefined,
): Promise<VerifiedRoomState> {
  const source = new UniquePdus(feed);
  const { unique, texts } = source;

  // Each unique PDU's verified form, built as its chunk's outcomes arrive (for the sink and
  // the authorization walk, which both run as chunks come).
  const verifiedAt: Array<VerifiedPdu | undefined> = [];
  const walk = new AuthWalk(rules);
  const onChunk = (outcomes: readonly VerifyOutcome[], start: number, end: number): void => {
    const batch: VerifiedPdu[] = [];
    for (let index = start; index < end; index++) {
      const outcome = outcomes[index];
      if (outcome === undefined || 'rejected' in outcome) continue;
      const raw = unique[index] as Record<string, unknown>;
      // An `event_id` key is not part of the PDU (v4+): the copy without it is kept. Without
      // one (as every v4+ sender sends), the parsed PDU itself, not a copy of 30,000 of them.
      const withId = Object.hasOwn(raw, 'event_id');
      const asReceived = withId ? withoutEventId(raw) : raw;
      const pdu = outcome.redacted ?? asReceived;
      // The JSON text made for the dedupe is the row's text as well, when it is this very PDU.
      const sameText = outcome.redacted === undefined && !withId;
      const verified: VerifiedPdu = {
        eventId: outcome.eventId,
        pdu,
        dag: { ...(pdu as unknown as VerifiedPdu['dag']), event_id: outcome.eventId },
        ...(outcome.redacted === undefined ? {} : { redacted: true as const }),
        ...(sameText ? { pduText: texts[index] as string } : {}),
      };
      verifiedAt[index] = verified;
      batch.push(verified);
    }
    sink?.add(batch);
    walk.add(batch);
  };
  // A failing sink (the database) fails the check; only a failing worker falls back in-thread.
  let sinkFailed = false;
  const guardedSink: VerifiedPduSink | undefined = sink && {
    add: (pdus) => sink.add(pdus),
    step: async (drain) => {
      try {
        return await sink.step(drain);
      } catch (error) {
        sinkFailed = true;
        throw error;
      }
    },
  };
  try {
    await runShared(source, rules, keyLookup, workers, onChunk, guardedSink);
  } catch (error) {
    // A failed body fails the check (feed.check throws its error); a failed worker falls back.
    if (onWorkerFailure === 'throw' || sinkFailed) throw error;
    feed.check();
    return verifyWhole(feed, rules, keyLookup);
  }

  source.readAll();
  // The auth chain's PDUs first, then the state's (each distinct PDU once): plain passes over
  // the feed's order, as this runs after the last chunk, on this thread alone.
  const received = new Map<string, VerifiedPdu>();
  let rejected = 0;
  const seen = new Uint8Array(unique.length);
  const stateIds: string[] = [];
  for (const inState of [false, true]) {
    for (let i = 0; i < source.at.length; i++) {
      if (feed.inState[i] !== inState) continue;
      const index = source.at[i] as number;
      const verified = verifiedAt[index];
      if (inState && verified !== undefined) stateIds.push(verified.eventId);
      if (seen[index] === 1) continue;
      seen[index] = 1;
      if (verified === undefined) {
        rejected++;
        continue;
      }
      // Different copies of one event (other `unsigned`, say): the first one counts.
      if (!received.has(verified.eventId)) received.set(verified.eventId, verified);
    }
  }
  return acceptByAuthRules(received, stateIds, rejected, rules, walk.verdicts());
}

function withoutEventId(raw: Record<string, unknown>): Record<string, unknown> {
  const { event_id: _ignored, ...rest } = raw;
  return rest;
}

/**
 * An answer's PDUs (in the order the feed has them) as the check reaches them, each identical copy once:
 * state events usually come twice (in `state` and `auth_chain`), and finding copies takes each
 * PDU's JSON text, so that is done chunk by chunk, as the threads take work — the first
 * worker gets its chunk at once instead of after the whole answer was encoded.
 */
class UniquePdus {
  /** The distinct PDUs read so far, and their JSON texts. */
  readonly unique: unknown[] = [];
  readonly texts: string[] = [];
  /** Per PDU read (the feed's order): its index in `unique`. */
  readonly at: number[] = [];
  readonly #feed: PduFeed;
  readonly #indexOfText = new Map<string, number>();

  constructor(feed: PduFeed) {
    this.#feed = feed;
  }

  /** Released PDUs not read yet (copies among them included). */
  get unread(): number {
    return this.#feed.released - this.at.length;
  }

  /** Every PDU of the answer is read: no more will come. */
  get finished(): boolean {
    return this.#feed.finished && this.at.length === this.#feed.pdus.length;
  }

  /** Resolves when more PDUs may be released (rejects with a failed body's error). */
  changed(): Promise<void> {
    return this.#feed.changed();
  }

  /** Reads until `count` distinct PDUs are known, or every released PDU is read. */
  ensure(count: number): void {
    const all = this.#feed.pdus;
    while (this.unique.length < count && this.at.length < this.#feed.released) {
      const raw = all[this.at.length];
      const text = JSON.stringify(raw) ?? 'null';
      let index = this.#indexOfText.get(text);
      if (index === undefined) {
        index = this.unique.length;
        this.unique.push(raw);
        this.texts.push(text);
        this.#indexOfText.set(text, index);
      }
      this.at.push(index);
    }
  }

  readAll(): void {
    this.ensure(Number.POSITIVE_INFINITY);
  }
}

/**
 * The keys the signatures of `events[start..end)` name (added to `keys`), and per event (index
 * from `start`) those whose answer differs at its timestamp.
 */
function keysFor(
  events: readonly unknown[],
  start: number,
  end: number,
  keyLookup: KeyLookup,
  keys: Map<string, Uint8Array | string>,
): Map<number, Map<string, Uint8Array | string | undefined>> {
  const overrides = new Map<number, Map<string, Uint8Array | string | undefined>>();
  for (let at = start; at < end; at++) {
    const raw = events[at];
    const i = at - start;
    const { signatures, origin_server_ts: ts } = (raw ?? {}) as Record<string, unknown>;
    if (typeof signatures !== 'object' || signatures === null) continue;
    for (const [entity, byKey] of Object.entries(signatures)) {
      if (typeof byKey !== 'object' || byKey === null) continue;
      for (const keyId of Object.keys(byKey)) {
        const id = `${entity}\u0000${keyId}`;
        const base = keyLookup(entity, keyId, undefined);
        if (base !== undefined) keys.set(id, base);
        // An old key answers only for events signed before it expired.
        const atTs = keyLookup(entity, keyId, typeof ts === 'number' ? ts : undefined);
        if (atTs !== base) {
          const forEvent = overrides.get(i) ?? new Map<string, Uint8Array | string | undefined>();
          forEvent.set(id, atTs);
          overrides.set(i, forEvent);
        }
      }
    }
  }
  return overrides;
}

/**
 * Checks `events` on this thread and `count` workers, chunk by chunk, calling `onChunk` with
 * the outcomes (one per event, in order) as each chunk's are in; between its own chunks this
 * thread runs one step of `sink`'s work when it has some. Rejects when a worker fails (the
 * caller then checks in-thread).
 */
async function runShared(
  source: UniquePdus,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
  count: number,
  onChunk: (outcomes: readonly VerifyOutcome[], start: number, end: number) => void,
  sink: VerifiedPduSink | undefined,
): Promise<void> {
  const { unique: events, texts } = source;
  // Verify keys as the main thread's lookup answers them without a timestamp, filled per chunk.
  const keys = new Map<string, Uint8Array | string>();
  const outcomes: VerifyOutcome[] = [];
  let next = 0;
  let failed = false;
  let workerError: unknown;
  /** Chunks handed to a worker and not answered yet: start → end. */
  const pending = new Map<number, number>();
  /** Starts of the chunks whose outcomes are in, from whichever thread got there first. */
  const answered = new Set<number>();
  const settle = (start: number, end: number, fill: () => void): void => {
    if (answered.has(start)) return;
    answered.add(start);
    pending.delete(start);
    fill();
    onChunk(outcomes, start, end);
  };
  const checkHere = (start: number, end: number): void => {
    settle(start, end, () => {
      for (let i = start; i < end; i++) outcomes[i] = checkPduOutcome(events[i], rules, keyLookup);
    });
  };
  /** The next chunk; 'wait' while fewer than `size` PDUs are in and more are coming. */
  const take = (size: number): [number, number] | 'wait' | undefined => {
    if (failed) return undefined;
    source.ensure(next + size);
    const available = events.length - next;
    if (available < size && !source.finished) return 'wait';
    if (available <= 0) return undefined;
    const start = next;
    next = Math.min(events.length, start + size);
    return [start, next];
  };

  const workerLoop = async (): Promise<void> => {
    let worker: VerifyWorker;
    try {
      worker = acquireWorker();
    } catch (error) {
      // A worker that cannot start fails the shared check (the caller checks in-thread), never
      // the process: this async function's rejection would go unhandled.
      failed = true;
      workerError ??= error;
      return;
    }
    // The next chunk waits in the worker's queue, so it starts on it as soon as it posts one,
    // not when this thread (verifying or storing a chunk of its own) gets to answer.
    const submit = async (): Promise<{ done: Promise<void> } | undefined> => {
      let share: [number, number] | 'wait' | undefined;
      for (;;) {
        // Near the end chunks shrink, so no thread is left waiting long for a worker's last
        // two (while the answer still arrives, its end is not known: full chunks).
        const left = events.length - next + source.unread;
        share = take(
          source.finished
            ? Math.min(WORKER_CHUNK, Math.max(MAIN_CHUNK, Math.ceil(left / 8)))
            : WORKER_CHUNK,
        );
        if (share !== 'wait') break;
        await source.changed();
      }
      if (share === undefined) return undefined;
      const [start, end] = share;
      const shareOverrides = keysFor(events, start, end, keyLookup, keys);
      const job: VerifyJob = {
        roomVersion: rules.id,
        keys,
        events: texts.slice(start, end),
        overrides: shareOverrides,
      };
      pending.set(start, end);
      const done = worker.run(job).then((results) => {
        settle(start, end, () => {
          for (let i = 0; i < results.length; i++) {
            outcomes[start + i] = results[i] as VerifyOutcome;
          }
        });
      });
      // Awaited below; this keeps a failure of the job behind from being unhandled meanwhile.
      done.catch(() => undefined);
      // Wrapped: an async function returning `done` itself would wait for it.
      return { done };
    };
    try {
      // One chunk alone first: a worker still loading its modules would otherwise sit on two
      // while this thread runs out of work.
      const first = await submit();
      if (first !== undefined) await first.done;
      if (first !== undefined) {
        const held: Array<{ done: Promise<void> }> = [];
        for (;;) {
          while (held.length < JOBS_HELD) {
            const job = await submit();
            if (job === undefined) break;
            held.push(job);
          }
          const oldest = held.shift();
          if (oldest === undefined) break;
          await oldest.done;
        }
      }
    } catch (error) {
      failed = true;
      workerError ??= error;
    } finally {
      releaseWorker(worker);
    }
  };

  const mainLoop = async (): Promise<void> => {
    for (;;) {
      if (failed) return;
      // The sink's work first (storing what is verified), so the workers keep verifying.
      const sinkWorked = sink !== undefined && (await sink.step());
      if (!sinkWorked) {
        // Out of chunks, this thread checks the last one a worker still holds (a busy or
        // starved worker would keep it waiting); whichever answer comes first counts.
        const taken = take(MAIN_CHUNK);
        if (taken === 'wait') {
          // The answer is still arriving: wait for its next PDUs (workers answer meanwhile).
          await source.changed();
          continue;
        }
        // No chunk left to take: the rows still queued go in before taking a worker's chunk
        // over (the remainder would otherwise be written after the check, on this thread alone).
        const drained = taken === undefined && sink !== undefined && (await sink.step(true));
        if (!drained) {
          const share = taken ?? [...pending].at(-1);
          if (share === undefined) return;
          checkHere(share[0], share[1]);
        }
      }
      // Let the workers' answers in, so they get their next chunk without waiting for ours.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  const workerLoops = Array.from({ length: count }, () => workerLoop());
  await mainLoop();
  // Every chunk is answered (or a worker failed): a worker still on a chunk this thread took
  // over finishes it unawaited, its answer ignored.
  if (workerError !== undefined) {
    await Promise.all(workerLoops);
    throw workerError;
  }
}

/**
 * The worker pool: started at the first big join and kept (unreferenced, so it never holds the
 * process open) — a worker costs ≈ 0.3 s of CPU to load its modules, and its compiled code gets
 * faster with use. A check holds a worker for its duration; a worker that fails is dropped.
 */
const idle: VerifyWorker[] = [];
let started = 0;

/** One worker thread: jobs are answered in the order posted (it handles one message at a time). */
class VerifyWorker {
  readonly #worker: Worker;
  readonly #waiting: Array<{
    resolve: (outcomes: VerifyOutcome[]) => void;
    reject: (error: Error) => void;
  }> = [];
  #failure: Error | undefined;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (outcomes: VerifyOutcome[]) => this.#waiting.shift()?.resolve(outcomes));
    // Without an 'error' listener a failing worker's error would be thrown in this process.
    worker.on('error', (error: Error) => this.#fail(error));
    worker.once('exit', (code: number) => {
      started--;
      this.#fail(new Error(`verify worker exited with ${code}`));
    });
    worker.unref();
  }

  get usable(): boolean {
    return this.#failure === undefined;
  }

  run(job: VerifyJob): Promise<VerifyOutcome[]> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#worker.postMessage(job);
    });
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const at = idle.indexOf(this);
    if (at >= 0) idle.splice(at, 1);
    for (const waiting of this.#waiting.splice(0)) waiting.reject(error);
    void this.#worker.terminate();
  }
}

/**
 * Starts the helper workers ahead of a join (while `make_join` and `send_join` are answered),
 * so their module loading (≈ 0.3 s of CPU each) does not delay the check. Only the first call
 * starts any: the pool is kept, so a process pays this once, joins big or small.
 */
export function prepareVerifyWorkers(count = helperWorkers()): void {
  try {
    while (started < count) idle.push(startWorker());
  } catch {
    // No workers here: the check runs in-thread.
  }
}

function acquireWorker(): VerifyWorker {
  return idle.pop() ?? startWorker();
}

function releaseWorker(worker: VerifyWorker): void {
  if (worker.usable) idle.push(worker);
}

function startWorker(): VerifyWorker {
  // The worker resolves the workspace packages to their source, as this process does when it
  // runs from source (a test runner's process may resolve them by aliases instead).
  const execArgv = process.execArgv.includes(SOURCE_CONDITION)
    ? process.execArgv
    : [...process.execArgv, SOURCE_CONDITION];
  // From source this module is verify-parallel.ts; in the build it is bundled into dist/main.js,
  // next to dist/verify-worker.js (tsup.config.ts).
  const file = import.meta.url.endsWith('.ts') ? './verify-worker.ts' : './verify-worker.js';
  const url = new URL(file, import.meta.url);
  const thread = startWorkerThread(url, { execArgv }, [SOURCE_CONDITION]);
  const worker = new VerifyWorker(thread);
  started++;
  return worker;
}
