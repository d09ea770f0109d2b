/**
 * The floor of issue 5's delivery benchmark: the least any Node server must do for that load,
 * run with the same client and the same requests as weft-server (sync-load.ts). It speaks just
 * enough of the client-server API — register with the dummy stage, createRoom, join, send and
 * long-polling /sync — over node:http, with everything in memory: no storage, no hashing or
 * signing, no auth rules, no push rules, no filters. What it costs per event is what HTTP and
 * long-polling alone cost on this machine, so the benchmark can print weft-server's figures as a
 * share of the floor's, and show whether a target is within reach of a Node server at all.
 *
 * Not a server anyone should run: it exists to be measured. Prints the same `listening` log
 * line as weft-server, on stderr, for the benchmark to find its port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

interface FloorEvent {
  readonly event_id: string;
  readonly type: string;
  readonly sender: string;
  readonly room_id: string;
  readonly origin_server_ts: number;
  readonly content: unknown;
  readonly position: number;
}

interface Waiter {
  readonly roomIds: readonly string[];
  readonly respond: () => void;
}

const users = new Map<string, string>(); // token → user ID
const roomsOf = new Map<string, string[]>(); // user ID → room IDs
const timelines = new Map<string, FloorEvent[]>(); // room ID → events
const txns = new Map<string, string>(); // user + txn ID → event ID
let waiters = new Set<Waiter>();
let position = 0;
let nextId = 0;

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        ok(text === '' ? {} : (JSON.parse(text) as Record<string, unknown>));
      } catch (error) {
        fail(error);
      }
    });
    request.on('error', fail);
  });
}

/** The events of `roomIds` after `since`, as /sync's `rooms.join`. */
function joinedRooms(roomIds: readonly string[], since: number): Record<string, unknown> {
  const join: Record<string, unknown> = {};
  for (const roomId of roomIds) {
    const timeline = timelines.get(roomId) ?? [];
    let start = timeline.length;
    while (start > 0 && (timeline[start - 1] as FloorEvent).position > since) start--;
    if (start === timeline.length) continue;
    const events = timeline.slice(start).map(({ position: _position, ...event }) => event);
    join[roomId] = { timeline: { events, limited: false } };
  }
  return join;
}

function append(roomId: string, sender: string, type: string, content: unknown): string {
  const event: FloorEvent = {
    event_id: `$floor${nextId++}`,
    type,
    sender,
    room_id: roomId,
    origin_server_ts: Date.now(),
    content,
    position: ++position,
  };
  timelines.get(roomId)?.push(event);
  // Wake the syncs that wait on this room; the rest keep waiting.
  const woken = [...waiters].filter((waiter) => waiter.roomIds.includes(roomId));
  if (woken.length > 0) {
    waiters = new Set([...waiters].filter((waiter) => !woken.includes(waiter)));
    for (const waiter of woken) waiter.respond();
  }
  return event.event_id;
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://floor');
  const path = url.pathname;
  if (request.method === 'POST' && path === '/_matrix/client/v3/register') {
    const body = await readBody(request);
    if (body['auth'] === undefined) return json(response, 401, { session: 'floor', flows: [] });
    const userId = `@${String(body['username'])}:floor`;
    const token = `token-${userId}`;
    users.set(token, userId);
    roomsOf.set(userId, []);
    return json(response, 200, { user_id: userId, access_token: token, device_id: 'FLOOR' });
  }
  const userId = users.get((request.headers.authorization ?? '').slice('Bearer '.length));
  if (userId === undefined) return json(response, 401, { errcode: 'M_UNKNOWN_TOKEN' });
  const joined = roomsOf.get(userId) as string[];
  if (request.method === 'POST' && path === '/_matrix/client/v3/createRoom') {
    await readBody(request);
    const roomId = `!floor${nextId++}:floor`;
    timelines.set(roomId, []);
    joined.push(roomId);
    return json(response, 200, { room_id: roomId });
  }
  const joinPath = /^\/_matrix\/client\/v3\/join\/([^/]+)$/.exec(path);
  if (request.method === 'POST' && joinPath !== null) {
    await readBody(request);
    const roomId = decodeURIComponent(joinPath[1] as string);
    joined.push(roomId);
    append(roomId, userId, 'm.room.member', { membership: 'join' });
    return json(response, 200, { room_id: roomId });
  }
  const sendPath = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/.exec(path);
  if (request.method === 'PUT' && sendPath !== null) {
    const content = await readBody(request);
    const [, roomId, type, txnId] = sendPath.map((part) => decodeURIComponent(part));
    const key = `${userId} ${txnId}`;
    const eventId = txns.get(key) ?? append(roomId as string, userId, type as string, content);
    txns.set(key, eventId);
    return json(response, 200, { event_id: eventId });
  }
  if (request.method === 'GET' && path === '/_matrix/client/v3/sync') {
    const since = url.searchParams.get('since');
    if (since === null) {
      return json(response, 200, { next_batch: String(position), rooms: { join: {} } });
    }
    const from = Number(since);
    const answer = () =>
      json(response, 200, {
        next_batch: String(position),
        rooms: { join: joinedRooms(joined, from) },
      });
    if (position > from && Object.keys(joinedRooms(joined, from)).length > 0) return answer();
    const timeout = Number(url.searchParams.get('timeout') ?? 0);
    const waiter: Waiter = { roomIds: joined, respond: answer };
    waiters.add(waiter);
    const timer = setTimeout(() => {
      if (waiters.delete(waiter)) answer();
    }, timeout);
    response.once('close', () => {
      clearTimeout(timer);
      waiters.delete(waiter);
    });
    return;
  }
  json(response, 404, { errcode: 'M_UNRECOGNIZED' });
}

const server = createServer((request, response) => {
  handle(request, response).catch(() => json(response, 400, { errcode: 'M_BAD_JSON' }));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stderr.write(
    `${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
