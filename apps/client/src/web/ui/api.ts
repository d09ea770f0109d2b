/**
 * The page's side of the local API (`src/web/server.ts`): JSON requests and the server-sent
 * event stream. The launch cookie goes along automatically (same origin).
 */

import type { EventView, MemberView, RoomSummary } from '../view-types.ts';

export type { EventView, MemberView, RoomSummary };

export interface RoomDetails extends RoomSummary {
  readonly members: MemberView[];
  readonly timeline: EventView[];
}

export type Session =
  | { readonly loggedIn: false; readonly homeserver: string }
  | { readonly loggedIn: true; readonly userId: string; readonly deviceId: string };

/** A refusal from the local API (`{ errcode, error }`). */
export class ApiError extends Error {
  readonly status: number;
  readonly errcode: string;

  constructor(status: number, errcode: string, message: string) {
    super(message);
    this.status = status;
    this.errcode = errcode;
  }
}

export async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    ...(body === undefined
      ? {}
      : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const value = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    throw new ApiError(
      response.status,
      String(value['errcode'] ?? 'M_UNKNOWN'),
      String(value['error'] ?? response.statusText),
    );
  }
  return value as T;
}

export function roomPath(roomId: string, action = ''): string {
  return `/api/rooms/${encodeURIComponent(roomId)}${action === '' ? '' : `/${action}`}`;
}

export interface Handlers {
  rooms(rooms: RoomSummary[]): void;
  timeline(roomId: string, event: EventView): void;
  /** What is wrong with the connection, or '' when all is well. */
  connection(problem: string): void;
}

/** Subscribes to live updates. */
export function subscribe(handlers: Handlers): EventSource {
  const source = new EventSource('/api/events');
  source.addEventListener('rooms', (message) => {
    handlers.rooms((JSON.parse(message.data) as { rooms: RoomSummary[] }).rooms);
  });
  source.addEventListener('timeline', (message) => {
    const update = JSON.parse(message.data) as { roomId: string; event: EventView };
    handlers.timeline(update.roomId, update.event);
  });
  source.addEventListener('status', (message) => {
    const { connected, loggedOut } = JSON.parse(message.data) as {
      connected: boolean;
      loggedOut?: boolean;
    };
    handlers.connection(
      loggedOut === true
        ? 'Logged out by the homeserver: reload the page to log in again.'
        : connected
          ? ''
          : 'Homeserver unreachable, retrying…',
    );
  });
  // EventSource reconnects by itself; the server sends the room list and status again.
  source.addEventListener('error', () => handlers.connection('Lost weft web, reconnecting…'));
  return source;
}
