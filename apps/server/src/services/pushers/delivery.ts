/**
 * Delivery to push gateways (Push Gateway API `POST /_matrix/push/v1/notify`,
 * https://spec.matrix.org/v1.19/push-gateway-api/): once an event's write has committed, each
 * recipient whose push actions say `notify` and who has `http` pushers gets one request per
 * pusher, in the background — the send that stored the event never waits for a gateway. A
 * network failure, a timeout, a 5xx or a 429 is retried with backoff (@weft/transport's
 * `backoffDelay`); a pushkey the gateway lists in `rejected` loses its pusher. Node's `http` /
 * `https` rather than `MatrixHttpClient`: the body carries the event's content and the client's
 * pusher data as written, floats included, which the client's canonical JSON would refuse; and
 * the socket's `lookup` is the address policy's (address-policy.ts, `push:` in weft.yaml), so a
 * gateway on a private or loopback address is never connected to — such a pusher is kept, the
 * notification dropped with a warning. Push keys and event content are never logged.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

import { parseAnyJson } from '@weft/canonical-json';
import { backoffDelay, type RetryPolicy } from '@weft/transport';

import type { ServerContext } from '../core/context.ts';
import type { PushTarget } from '../push/service.ts';
import type { RoomService, StoredEvent } from '../rooms/index.ts';
import { DeniedAddressError, PushAddressPolicy } from './address-policy.ts';
import { type PusherRow, selectUnreadTotal } from './store.ts';

/** Attempts per notification and their backoff: 0.25–0.5 s, 0.5–1 s, 1–2 s, 2–4 s. */
const RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/** Per-attempt timeout of a gateway request. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/** The most of a gateway's answer read (its `rejected` list is small). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** What the delivery reads of the pushers service. */
export interface PusherSource {
  /** The user's pushers (every kind; only `http` ones are delivered to). */
  pushers(userId: string): Promise<PusherRow[]>;
  /** Removes a pusher whose pushkey the gateway rejected. */
  rejected(userId: string, appId: string, pushkey: string): Promise<void>;
}

/** The room facts of a full-format notification, read once per event. */
type RoomFacts = {
  readonly senderDisplayName: string | undefined;
  readonly roomName: string | undefined;
  readonly roomAlias: string | undefined;
};

/** `Tweaks` of a device: every `set_tweak` of the actions, a missing `value` being `true`. */
export function tweaksOf(actions: readonly unknown[]): Record<string, unknown> {
  const tweaks: Record<string, unknown> = {};
  for (const action of actions) {
    if (typeof action !== 'object' || action === null) continue;
    const tweak = (action as Record<string, unknown>)['set_tweak'];
    if (typeof tweak !== 'string') continue;
    tweaks[tweak] = 'value' in action ? (action as Record<string, unknown>)['value'] : true;
  }
  return tweaks;
}

/** `prio`: `high` for an encrypted event or one that highlights or makes a sound (as Synapse). */
function priorityOf(event: StoredEvent, tweaks: Record<string, unknown>): 'high' | 'low' {
  const loud = (value: unknown) => value !== undefined && value !== false && value !== null;
  return event.type === 'm.room.encrypted' || loud(tweaks['highlight']) || loud(tweaks['sound'])
    ? 'high'
    : 'low';
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The `devices` entry of one pusher: its `data` without `url`. */
function deviceOf(row: PusherRow, data: Record<string, unknown>, tweaks: Record<string, unknown>) {
  const { url: _url, ...rest } = data;
  return {
    app_id: row.app_id,
    pushkey: row.pushkey,
    pushkey_ts: Math.floor(Number(row.pushkey_ts) / 1000),
    data: rest,
    tweaks,
  };
}

export class GatewayDelivery {
  readonly #ctx: ServerContext;
  readonly #rooms: RoomService;
  readonly #source: PusherSource;
  readonly #stop = new AbortController();
  readonly #policy: PushAddressPolicy;

  constructor(ctx: ServerContext, rooms: RoomService, source: PusherSource) {
    this.#ctx = ctx;
    this.#policy = new PushAddressPolicy(ctx.config.push);
    this.#rooms = rooms;
    this.#source = source;
  }

  /** Drops pending retries and sends nothing more. */
  stop(): void {
    this.#stop.abort();
  }

  /** Notifies `targets` of `event` in the background (called after its commit). */
  deliver(event: StoredEvent, targets: readonly PushTarget[]): void {
    if (this.#stop.signal.aborted || targets.length === 0) return;
    let facts: Promise<RoomFacts> | undefined;
    const roomFacts = () => {
      facts ??= this.#roomFacts(event);
      return facts;
    };
    for (const target of targets) {
      this.#deliverTo(event, target, roomFacts).catch((error: unknown) => {
        if (this.#stop.signal.aborted) return;
        this.#ctx.log.warn('push delivery failed', {
          user_id: target.userId,
          event_id: event.eventId,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }
  }

  async #deliverTo(
    event: StoredEvent,
    target: PushTarget,
    roomFacts: () => Promise<RoomFacts>,
  ): Promise<void> {
    const pushers = (await this.#source.pushers(target.userId)).filter((p) => p.kind === 'http');
    if (pushers.length === 0) return;
    const unread = await selectUnreadTotal(this.#ctx.db, target.userId);
    const tweaks = tweaksOf(target.actions);
    const content = event.pdu['content'];
    await Promise.all(
      pushers.map(async (row) => {
        const data = parseAnyJson(row.data) as Record<string, unknown>;
        const url = data['url'];
        if (typeof url !== 'string') return;
        const notification: Record<string, unknown> = {
          event_id: event.eventId,
          room_id: event.roomId,
          prio: priorityOf(event, tweaks),
          // Spec: "Counts whose value is zero should be omitted."
          counts: unread > 0 ? { unread } : {},
          devices: [deviceOf(row, data, tweaks)],
        };
        if (data['format'] !== 'event_id_only') {
          const facts = await roomFacts();
          notification['type'] = event.type;
          notification['sender'] = event.sender;
          if (facts.senderDisplayName !== undefined) {
            notification['sender_display_name'] = facts.senderDisplayName;
          }
          if (facts.roomName !== undefined) notification['room_name'] = facts.roomName;
          if (facts.roomAlias !== undefined) notification['room_alias'] = facts.roomAlias;
          if (event.type === 'm.room.member') {
            notification['user_is_target'] = event.stateKey === target.userId;
          }
          if (typeof content === 'object' && content !== null) notification['content'] = content;
        }
        await this.#post(target.userId, row, url, JSON.stringify({ notification }));
      }),
    );
  }

  /** The sender's display name in the room and the room's name and alias, as of now. */
  async #roomFacts(event: StoredEvent): Promise<RoomFacts> {
    const [member, name, alias] = await Promise.all([
      this.#rooms.currentStateEvent(event.roomId, 'm.room.member', event.sender),
      this.#rooms.currentStateEvent(event.roomId, 'm.room.name', ''),
      this.#rooms.currentStateEvent(event.roomId, 'm.room.canonical_alias', ''),
    ]);
    const field = (stored: StoredEvent | undefined, key: string) =>
      nonEmptyString((stored?.pdu['content'] as Record<string, unknown> | undefined)?.[key]);
    return {
      senderDisplayName: field(member, 'displayname'),
      roomName: field(name, 'name'),
      roomAlias: field(alias, 'alias'),
    };
  }

  /** POSTs one notification, retrying; removes the pusher when its pushkey is rejected. */
  async #post(userId: string, row: PusherRow, url: string, body: string): Promise<void> {
    const stop = this.#stop.signal;
    for (let attempt = 1; ; attempt++) {
      if (stop.aborted) return;
      let retry: boolean;
      let failure: string;
      try {
        const response = await this.#postOnce(
          url,
          body,
          AbortSignal.any([stop, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        );
        if (response.status >= 200 && response.status < 300) {
          await this.#handleAnswer(userId, row, response.text);
          return;
        }
        retry = response.status >= 500 || response.status === 429;
        failure = `HTTP ${response.status}`;
      } catch (error) {
        if (stop.aborted) return;
        retry = !(error instanceof DeniedAddressError);
        failure = error instanceof DeniedAddressError ? 'address not allowed' : errorName(error);
      }
      if (!retry || attempt >= RETRY.maxAttempts) {
        this.#ctx.log.warn('a push gateway did not take a notification', {
          user_id: userId,
          app_id: row.app_id,
          attempts: attempt,
          failure,
        });
        return;
      }
      await sleep(backoffDelay(attempt - 1, RETRY, Math.random), stop);
    }
  }

  /**
   * One POST (no redirects followed): connects only to addresses the policy allows; answers the
   * status and, for a 2xx, the body's text.
   */
  #postOnce(
    url: string,
    body: string,
    signal: AbortSignal,
  ): Promise<{ readonly status: number; readonly text: string }> {
    return new Promise((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
        this.#policy.checkUrl(target);
      } catch (error) {
        reject(error);
        return;
      }
      const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const outgoing = request(
        target,
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
          lookup: this.#policy.lookup,
          signal,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            response.resume();
            resolve({ status, text: '' });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              response.destroy();
              resolve({ status, text: '' });
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString() }));
          response.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  /** A gateway's 2xx answer: its `rejected` pushkeys lose their pushers. */
  async #handleAnswer(userId: string, row: PusherRow, text: string): Promise<void> {
    let rejected: unknown;
    try {
      rejected = (parseAnyJson(text) as Record<string, unknown> | null)?.['rejected'];
    } catch {
      return;
    }
    if (Array.isArray(rejected) && rejected.includes(row.pushkey)) {
      await this.#source.rejected(userId, row.app_id, row.pushkey);
    }
  }
}

/** An error's name for the log (never its message: it may hold the gateway's URL). */
function errorName(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.name : `${error.name} ${code}`;
  }
  return 'network error';
}

/** Waits `ms` (without keeping the process alive); resolves early once `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}
