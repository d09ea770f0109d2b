/**
 * The web UI: log in, room list (policy badge, unread marker), timeline, composer, member list,
 * new room with a policy. Everything shown comes from the local API as views; text reaches the
 * page only through `dom.ts` (text nodes).
 */
import {
  ApiError,
  call,
  type EventView,
  type MemberView,
  type RoomDetails,
  type RoomSummary,
  roomPath,
  type Session,
  subscribe,
} from './api.ts';
import { byId, field, h } from './dom.ts';

const POLICY_HELP: Record<string, string> = {
  shared: 'shared: members can read all history, also after they leave',
  epoch: 'epoch: members read the epochs they belonged to',
  'forward-secret': 'forward-secret: each key is deleted after use',
  unencrypted: 'not end-to-end encrypted',
  unknown: 'policy not known yet',
};

const ui = {
  noAccess: byId('no-access', HTMLParagraphElement),
  loginView: byId('login-view', HTMLElement),
  chatView: byId('chat-view', HTMLElement),
  login: byId('login', HTMLFormElement),
  loginError: byId('login-error', HTMLParagraphElement),
  whoami: byId('whoami', HTMLParagraphElement),
  connection: byId('connection', HTMLParagraphElement),
  rooms: byId('rooms', HTMLUListElement),
  newRoom: byId('new-room', HTMLButtonElement),
  createRoom: byId('create-room', HTMLFormElement),
  createError: byId('create-error', HTMLParagraphElement),
  roomHeading: byId('room-heading', HTMLHeadingElement),
  roomPolicy: byId('room-policy', HTMLParagraphElement),
  join: byId('join', HTMLButtonElement),
  older: byId('older', HTMLButtonElement),
  timeline: byId('timeline', HTMLOListElement),
  composer: byId('composer', HTMLFormElement),
  sendError: byId('send-error', HTMLParagraphElement),
  members: byId('members', HTMLUListElement),
};

const state = {
  userId: '',
  rooms: [] as RoomSummary[],
  open: undefined as string | undefined,
  /** The open room's timeline lines by key, in order of arrival. */
  lines: new Map<string, EventView>(),
  stream: undefined as EventSource | undefined,
  /** Rooms whose history was loaded back to their start. */
  atStart: new Set<string>(),
};

function message(error: unknown): string {
  return error instanceof ApiError ? `${error.errcode}: ${error.message}` : String(error);
}

function badge(policy: string): HTMLElement {
  return h('span', { class: `badge ${policy}`, title: POLICY_HELP[policy] ?? policy }, policy);
}

// ------------------------------------------------------------------ room list

function renderRooms(): void {
  const items = state.rooms.map((room) => {
    const button = h(
      'button',
      { type: 'button', 'aria-current': String(room.roomId === state.open) },
      h('span', { class: 'room-name' }, room.name),
      badge(room.policy),
    );
    if (room.membership === 'invite') button.append(h('span', { class: 'badge' }, 'invited'));
    if (room.unread > 0 && room.roomId !== state.open)
      button.append(
        h('span', { class: 'unread', 'aria-label': `${room.unread} unread` }, String(room.unread)),
      );
    button.addEventListener('click', () => void openRoom(room.roomId));
    return h('li', {}, button);
  });
  ui.rooms.replaceChildren(...items);
  const open = state.rooms.find((r) => r.roomId === state.open);
  if (open !== undefined) renderRoomHeader(open);
}

function renderRoomHeader(room: RoomSummary): void {
  ui.roomHeading.textContent = room.name;
  ui.roomPolicy.replaceChildren(
    'Policy: ',
    badge(room.policy),
    ` ${POLICY_HELP[room.policy] ?? ''}`,
  );
  ui.join.hidden = room.membership !== 'invite';
  ui.composer.hidden = room.membership !== 'join';
  ui.older.hidden = room.membership !== 'join' || state.atStart.has(room.roomId);
}

// ------------------------------------------------------------------ open room

function line(event: EventView): HTMLLIElement {
  const status =
    event.status === 'sent'
      ? []
      : [h('span', { class: 'status' }, event.status === 'pending' ? '(sending…)' : '(failed)')];
  if (event.kind === 'notice') return h('li', { class: 'notice' }, event.text);
  if (event.kind === 'undecryptable') {
    return h(
      'li',
      { class: 'undecryptable' },
      h('span', { class: 'sender' }, event.sender),
      `can't decrypt: ${event.text}`,
    );
  }
  return h(
    'li',
    { class: 'message' },
    h('span', { class: 'sender' }, event.sender),
    h('span', { class: 'body' }, event.text),
    ...status,
  );
}

function renderTimeline(): void {
  const atBottom =
    ui.timeline.scrollTop + ui.timeline.clientHeight >= ui.timeline.scrollHeight - 20;
  ui.timeline.replaceChildren(...[...state.lines.values()].map(line));
  if (atBottom) ui.timeline.scrollTop = ui.timeline.scrollHeight;
}

function renderMembers(members: MemberView[]): void {
  ui.members.replaceChildren(
    ...members.map((m) =>
      h(
        'li',
        {},
        m.userId,
        m.membership === 'invite' ? h('span', { class: 'status' }, '(invited)') : '',
      ),
    ),
  );
}

async function refreshOpenRoom(): Promise<void> {
  const roomId = state.open;
  if (roomId === undefined) return;
  const room = await call<RoomDetails>('GET', roomPath(roomId));
  if (state.open !== roomId) return;
  state.lines = new Map(room.timeline.map((e) => [e.key, e]));
  renderRoomHeader(room);
  renderTimeline();
  renderMembers(room.members);
}

async function openRoom(roomId: string): Promise<void> {
  if (state.open !== roomId) {
    // The header is drawn from the room list at once; clear the previous room's timeline and
    // members so they never show under the new room's name while its details load.
    state.lines = new Map();
    renderTimeline();
    renderMembers([]);
  }
  state.open = roomId;
  ui.sendError.textContent = '';
  renderRooms();
  await refreshOpenRoom();
  ui.timeline.scrollTop = ui.timeline.scrollHeight;
  await markRead();
}

async function markRead(): Promise<void> {
  const room = state.rooms.find((r) => r.roomId === state.open);
  if (room === undefined || room.membership !== 'join') return;
  await call('POST', roomPath(room.roomId, 'read'), {}).catch(() => undefined);
}

// ------------------------------------------------------------------ live updates

function onRooms(rooms: RoomSummary[]): void {
  const before = state.rooms.find((r) => r.roomId === state.open);
  state.rooms = rooms;
  renderRooms();
  const after = rooms.find((r) => r.roomId === state.open);
  // Membership changes (someone joined, our own join) show in the member list and composer.
  if (after !== undefined) void refreshOpenRoom();
  if (after !== undefined && after.unread > 0 && before !== undefined) void markRead();
}

function onTimeline(roomId: string, event: EventView): void {
  if (roomId !== state.open) return;
  state.lines.set(event.key, event);
  renderTimeline();
}

// ------------------------------------------------------------------ session

async function showChat(userId: string, rooms?: RoomSummary[]): Promise<void> {
  state.userId = userId;
  ui.whoami.textContent = userId;
  ui.whoami.hidden = false;
  ui.loginView.hidden = true;
  ui.chatView.hidden = false;
  state.rooms = rooms ?? (await call<{ rooms: RoomSummary[] }>('GET', '/api/rooms')).rooms;
  renderRooms();
  state.stream = subscribe({
    rooms: onRooms,
    timeline: onTimeline,
    connection: (problem) => {
      ui.connection.textContent = problem;
    },
  });
}

function showLogin(homeserver: string): void {
  const input = ui.login.elements.namedItem('homeserver');
  if (input instanceof HTMLInputElement) input.value = homeserver;
  ui.loginView.hidden = false;
}

ui.login.addEventListener('submit', (event) => {
  event.preventDefault();
  const submitter = (event as SubmitEvent).submitter;
  const register = submitter instanceof HTMLButtonElement && submitter.value === 'register';
  ui.loginError.textContent = register ? 'Registering…' : 'Logging in…';
  const body = {
    homeserver: field(ui.login, 'homeserver'),
    user: field(ui.login, 'user'),
    password: field(ui.login, 'password'),
    register,
  };
  call<{ userId: string; rooms: RoomSummary[] }>('POST', '/api/login', body)
    .then(async (session) => {
      ui.loginError.textContent = '';
      ui.login.reset();
      await showChat(session.userId, session.rooms);
    })
    .catch((error: unknown) => {
      ui.loginError.textContent = message(error);
    });
});

ui.newRoom.addEventListener('click', () => {
  ui.createRoom.hidden = !ui.createRoom.hidden;
});

ui.createRoom.addEventListener('submit', (event) => {
  event.preventDefault();
  const invite = field(ui.createRoom, 'invite')
    .split(/[\s,]+/)
    .filter((u) => u !== '');
  const body = {
    name: field(ui.createRoom, 'name'),
    policy: field(ui.createRoom, 'policy'),
    invite,
  };
  ui.createError.textContent = '';
  call<{ roomId: string }>('POST', '/api/rooms', body)
    .then(async ({ roomId }) => {
      ui.createRoom.reset();
      ui.createRoom.hidden = true;
      await openRoom(roomId);
    })
    .catch((error: unknown) => {
      ui.createError.textContent = message(error);
    });
});

ui.join.addEventListener('click', () => {
  const roomId = state.open;
  if (roomId === undefined) return;
  call('POST', roomPath(roomId, 'join'), {}).catch((error: unknown) => {
    ui.sendError.textContent = message(error);
  });
});

ui.older.addEventListener('click', () => {
  const roomId = state.open;
  if (roomId === undefined) return;
  call<{ loaded: number }>('POST', roomPath(roomId, 'older'), {})
    .then(async ({ loaded }) => {
      if (loaded === 0) state.atStart.add(roomId);
      await refreshOpenRoom();
    })
    .catch((error: unknown) => {
      ui.sendError.textContent = message(error);
    });
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const roomId = state.open;
  const body = field(ui.composer, 'body');
  if (roomId === undefined || body.trim() === '') return;
  ui.composer.reset();
  ui.sendError.textContent = '';
  call('POST', roomPath(roomId, 'send'), { body }).catch((error: unknown) => {
    ui.sendError.textContent = message(error);
  });
});

// The first screen: chat if this process is logged in, else the login form.
call<Session>('GET', '/api/session')
  .then((session) => (session.loggedIn ? showChat(session.userId) : showLogin(session.homeserver)))
  .catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 401) ui.noAccess.hidden = false;
    else ui.noAccess.textContent = message(error);
    ui.noAccess.hidden = false;
  });
