/**
 * `WeftClient`: a Matrix client-server session with end-to-end encryption on by default.
 * Spec: client-server API v1.19 — registration with user-interactive auth (`m.login.dummy`),
 * `/login`, `/sync`, `/rooms/{roomId}/send`, `/messages`, `/sendToDevice`, `/keys/*`.
 *
 * Sync order per response: room state first (so each room's policy is known), then to-device
 * events (room keys), then timelines (decrypted with the keys just received).
 */
import { parseAnyJson } from '@weft/canonical-json';
import {
  DEFAULT_POLICY,
  membershipChangeOf,
  POLICY_RULES,
  parseEncryptionContent,
  REKEY_FIELD,
  type RoomPolicy,
  strictestPolicy,
  type ToDeviceMessage,
  toEncryptionContent,
} from '@weft/epoch';
import {
  backoffDelay,
  MatrixError,
  MatrixHttpClient,
  matrixPath,
  type RetryOptions,
  TransportError,
} from '@weft/transport';

import { ClientError } from '../errors.ts';
import { LocalStore } from './local-store.ts';
import { OlmMachine } from './olm-machine.ts';
import { RoomCrypto } from './room-crypto.ts';
import { type RawEvent, RoomModel, type TimelineEvent } from './room-model.ts';

/** Backoff of the sync loop after a request failed despite the transport's own retries. */
const SYNC_BACKOFF = {
  maxAttempts: Infinity,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

/** Options of {@link WeftClient.open}. */
export interface WeftClientOptions {
  /**
   * Homeserver base URL, e.g. `http://127.0.0.1:8008`. A store holding a session always talks to
   * that session's homeserver: omit this to use it; naming another one fails with
   * `homeserver-mismatch` (the access token is never sent elsewhere). Required for a store
   * without a session, unless {@link DEFAULT_HOMESERVER} will do.
   */
  readonly homeserver?: string | undefined;
  /** Path of the SQLite store file (created if missing). */
  readonly storePath: string;
  /** Passphrase protecting the store (keys are derived from it with scrypt). */
  readonly passphrase: string;
  /** Retry settings of every request (default: the transport's, 4 attempts from 500 ms). */
  readonly retry?: RetryOptions;
}

/** Options of {@link WeftClient.createRoom}. */
export interface CreateRoomOptions {
  readonly name?: string;
  readonly invite?: readonly string[];
  /** Forward-secrecy policy; default `epoch`. `null` creates an unencrypted room. */
  readonly policy?: RoomPolicy | RoomPolicy['mode'] | null;
}

interface Session {
  readonly homeserver: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly accessToken: string;
  /** Soft-logged-out (spec "Soft logout"): the token is dead, the device and its keys are kept. */
  readonly loggedOut?: boolean;
}

interface SavedRoom {
  readonly membership: RoomModel['membership'];
  readonly state: RawEvent[];
  readonly prevBatch?: string;
  readonly gaps?: Array<{ from: string; before: string }>;
}

/** Pages (of 100 events) one sync fetches to fill one room's gap; the rest waits for loadOlder. */
const GAP_PAGES = 10;

/**
 * Whether a failed request may succeed if the whole sync batch is retried: no answer, a timeout,
 * a 5xx, 429 or 401 (the token; handled by the caller). Any other 4xx is the server's final word.
 */
function transient(error: unknown): boolean {
  if (!(error instanceof MatrixError)) return true;
  return error.status >= 500 || error.status === 429 || error.status === 401;
}

/** The homeserver of a new store when none is named. */
export const DEFAULT_HOMESERVER = 'http://127.0.0.1:8008';

const normaliseUrl = (url: string) => url.replace(/\/+$/, '');

/** Attempts of a register/login request that got no response. */
const AUTH_ATTEMPTS = 3;

/** Listener of timeline changes (new events, decrypted later, echo status). */
export type TimelineListener = (roomId: string, event: TimelineEvent) => void;

/**
 * Something the client refused to do or had to stop, reported to {@link WeftClient.onWarning}
 * listeners: a {@link PolicyDowngradeWarning} or a {@link LoggedOutWarning}.
 */
export type ClientWarning = PolicyDowngradeWarning | LoggedOutWarning;

/**
 * `logged-out`: the homeserver no longer accepts the access token (401 `M_UNKNOWN_TOKEN`, e.g. the
 * device was logged out from another session). The sync loop stops. Unless `softLogout` is true
 * the saved session is cleared (log in again as a new device); with `softLogout` the store keeps
 * the device and {@link WeftClient.login} logs in again as the same device.
 */
export interface LoggedOutWarning {
  readonly code: 'logged-out';
  readonly message: string;
  readonly softLogout: boolean;
}

/**
 * `policy-downgrade-ignored`: an `m.room.encryption` event asked for a weaker policy than the one
 * already applied (e.g. `forward-secret` to `epoch`); the stricter one is kept.
 */
export interface PolicyDowngradeWarning {
  readonly code: 'policy-downgrade-ignored';
  readonly roomId: string;
  readonly message: string;
  /** The policy kept and applied. */
  readonly policy: RoomPolicy;
  /** The weaker policy the event asked for. */
  readonly ignored: RoomPolicy;
}

/** Listener of {@link ClientWarning}s. */
export type WarningListener = (warning: ClientWarning) => void;

/** Warnings kept for {@link WeftClient.warnings} (the newest ones). */
const KEPT_WARNINGS = 100;

/** A logged-in (or about to log in) client device. */
export class WeftClient {
  readonly #homeserver: string;
  readonly #store: LocalStore;
  readonly #retry: RetryOptions;
  #session: Session | undefined;
  #http: MatrixHttpClient | undefined;
  #olm: OlmMachine | undefined;
  #crypto: RoomCrypto | undefined;
  readonly #rooms = new Map<string, RoomModel>();
  readonly #positions = new WeakMap<TimelineEvent, number>();
  readonly #bounds = new Map<string, { first: number; next: number }>();
  readonly #arrivedKeys = new Set<string>();
  readonly #listeners = new Set<TimelineListener>();
  readonly #warningListeners = new Set<WarningListener>();
  readonly #warnings: ClientWarning[] = [];
  #txnCounter = 0;
  #syncAbort: AbortController | undefined;
  #syncing: Promise<void> | undefined;

  private constructor(homeserver: string, store: LocalStore, retry: RetryOptions) {
    this.#homeserver = homeserver;
    this.#store = store;
    this.#retry = retry;
  }

  /**
   * Opens the local store and restores a saved session, if any.
   * @throws ClientError `wrong-passphrase` when the passphrase does not open the store.
   */
  static open(options: WeftClientOptions): WeftClient {
    const store = LocalStore.open(options.storePath, options.passphrase);
    let session: Session | undefined;
    try {
      session = store.get<Session>('session');
      const named = options.homeserver === undefined ? undefined : normaliseUrl(options.homeserver);
      if (
        session !== undefined &&
        named !== undefined &&
        named !== normaliseUrl(session.homeserver)
      ) {
        throw new ClientError(
          'homeserver-mismatch',
          `this store's session belongs to ${session.homeserver}, not ${named}; omit the homeserver or use another store`,
          { userId: session.userId },
        );
      }
    } catch (error) {
      store.close();
      throw error;
    }
    const homeserver =
      session === undefined || session.loggedOut === true
        ? normaliseUrl(
            options.homeserver ??
              session?.homeserver ??
              store.get<string>('homeserver') ??
              DEFAULT_HOMESERVER,
          )
        : normaliseUrl(session.homeserver);
    const client = new WeftClient(homeserver, store, options.retry ?? {});
    if (session !== undefined && session.loggedOut !== true) client.#start(session);
    return client;
  }

  /** The homeserver this client talks to (a restored session's own). */
  get homeserver(): string {
    return this.#homeserver;
  }

  /** The logged-in user ID. */
  get userId(): string {
    return this.#need().userId;
  }

  /** This device's ID. */
  get deviceId(): string {
    return this.#need().deviceId;
  }

  /** True once logged in (or restored). */
  get loggedIn(): boolean {
    return this.#session !== undefined;
  }

  #need(): Session {
    if (this.#session === undefined)
      throw new ClientError('not-logged-in', 'log in or register first');
    return this.#session;
  }

  #api(): MatrixHttpClient {
    if (this.#http === undefined)
      throw new ClientError('not-logged-in', 'log in or register first');
    return this.#http;
  }

  #cryptoOf(): RoomCrypto {
    if (this.#crypto === undefined)
      throw new ClientError('not-logged-in', 'log in or register first');
    return this.#crypto;
  }

  #start(session: Session): void {
    this.#session = session;
    this.#http = new MatrixHttpClient({
      baseUrl: this.#homeserver,
      accessToken: session.accessToken,
      retry: this.#retry,
      // Answers carry what other clients wrote: account data may hold floats (a tag's order).
      anyJsonResponses: true,
    });
    this.#olm = OlmMachine.load(session.userId, session.deviceId, this.#store, this.#http);
    this.#crypto = new RoomCrypto(this.#olm, this.#store);
    this.#crypto.onKey = (roomId, sessionId) => this.#arrivedKeys.add(`${roomId}|${sessionId}`);
    for (const roomId of this.#store.get<string[]>('rooms') ?? []) {
      const saved = this.#store.get<SavedRoom>(`room:${roomId}`);
      if (saved === undefined) continue;
      const room = this.#room(roomId);
      room.membership = saved.membership;
      room.prevBatch = saved.prevBatch;
      room.gaps = [...(saved.gaps ?? [])];
      // The strictest policy seen, so a weaker `m.room.encryption` in the saved state stays ignored.
      const kept = this.#store.get<RoomPolicy>(`policy:${roomId}`);
      if (kept !== undefined) this.#crypto.setPolicy(roomId, kept);
      for (const event of saved.state) this.#applyState(room, event);
      const rows = this.#store.timeline(roomId);
      room.timeline = rows.map((r) => r.event as unknown as TimelineEvent);
      rows.forEach((r, i) => {
        const event = room.timeline[i];
        if (event !== undefined) this.#positions.set(event, r.pos);
      });
      this.#bounds.set(roomId, {
        first: rows[0]?.pos ?? 0,
        next: (rows.at(-1)?.pos ?? -1) + 1,
      });
    }
  }

  async #auth(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.#homeserver}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      } catch (cause) {
        // No response at all (fetch rejects with a TypeError), typically a kept-alive connection
        // the server closed just as it was reused, so the request never arrived: send it again
        // (at worst a repeated registration answers M_USER_IN_USE, a clear error).
        if (!(cause instanceof TypeError) || attempt >= AUTH_ATTEMPTS) throw cause;
        await new Promise((r) => setTimeout(r, 100 * attempt));
        continue;
      }
      return { status: response.status, body: parseAnyJson(await response.text()) };
    }
  }

  async #begin(result: Record<string, unknown>): Promise<void> {
    const session: Session = {
      homeserver: this.#homeserver,
      userId: String(result['user_id']),
      deviceId: String(result['device_id']),
      accessToken: String(result['access_token']),
    };
    // The Olm account belongs to one device: a login as another device (after a hard logout)
    // starts a new account rather than publishing the old keys under a new device ID.
    const owner =
      this.#store.get<string>('olm-device') ?? this.#store.get<Session>('session')?.deviceId;
    if (owner !== undefined && owner !== session.deviceId) {
      for (const name of ['olm-account', 'device-keys-uploaded', 'fallback-rotated-at'])
        this.#store.set(name, undefined);
      this.#store.clearOlmSessions();
    }
    this.#store.set('olm-device', session.deviceId);
    // Kept after a logout, so a new login goes to the same homeserver unless told otherwise.
    this.#store.set('homeserver', this.#homeserver);
    this.#store.set('session', session);
    this.#start(session);
    await this.#olm?.uploadKeys(undefined, []);
  }

  /** Registers `username` (user-interactive auth with `m.login.dummy`) and uploads device keys. */
  async register(username: string, password: string): Promise<void> {
    const first = (await this.#auth('/_matrix/client/v3/register', { username, password })) as {
      status: number;
      body: Record<string, unknown>;
    };
    let result = first;
    if (first.status === 401) {
      result = (await this.#auth('/_matrix/client/v3/register', {
        username,
        password,
        auth: { type: 'm.login.dummy', session: first.body['session'] },
      })) as typeof first;
    }
    if (result.status !== 200) {
      throw new ClientError(
        'registration-failed',
        `registration failed: ${String(result.body['errcode'])}`,
      );
    }
    await this.#begin(result.body);
  }

  /**
   * Logs in with a password (`m.login.password`) as a new device and uploads its keys. After a
   * soft logout (see {@link LoggedOutWarning}) it logs in again as the same device.
   */
  async login(username: string, password: string): Promise<void> {
    const saved = this.#store.get<Session>('session');
    const result = (await this.#auth('/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: username },
      password,
      ...(saved?.loggedOut === true ? { device_id: saved.deviceId } : {}),
    })) as { status: number; body: Record<string, unknown> };
    if (result.status !== 200) {
      throw new ClientError(
        'registration-failed',
        `login failed: ${String(result.body['errcode'])}`,
      );
    }
    await this.#begin(result.body);
  }

  /** Adds a timeline listener; returns a function removing it. */
  onTimeline(listener: TimelineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(roomId: string, event: TimelineEvent): void {
    for (const listener of this.#listeners) listener(roomId, event);
  }

  /** Adds a warning listener; returns a function removing it. */
  onWarning(listener: WarningListener): () => void {
    this.#warningListeners.add(listener);
    return () => this.#warningListeners.delete(listener);
  }

  /** The latest warnings (up to 100), oldest first, including those raised on restore. */
  warnings(): readonly ClientWarning[] {
    return [...this.#warnings];
  }

  #warn(warning: ClientWarning): void {
    this.#warnings.push(warning);
    if (this.#warnings.length > KEPT_WARNINGS) this.#warnings.shift();
    for (const listener of this.#warningListeners) listener(warning);
  }

  /**
   * Applies a room policy from `m.room.encryption` (or room creation). Once a room's policy is
   * known it is only ever made stricter: a weaker mode or a longer rotation limit is ignored and
   * reported as a `policy-downgrade-ignored` warning. The policy applied is saved, so a restart
   * keeps the strictest one seen whatever the saved state holds.
   */
  #applyPolicy(roomId: string, next: RoomPolicy): void {
    const crypto = this.#cryptoOf();
    const known = crypto.policyOf(roomId);
    const applied = known === undefined ? next : strictestPolicy(known, next);
    if (!samePolicy(applied, next)) {
      this.#warn({
        code: 'policy-downgrade-ignored',
        roomId,
        message: `ignored an m.room.encryption weaker than the room's policy (${next.mode} < ${applied.mode} or longer rotation); kept the stricter one`,
        policy: applied,
        ignored: next,
      });
    }
    if (known !== undefined && samePolicy(known, applied)) return;
    crypto.setPolicy(roomId, applied);
    this.#store.set(`policy:${roomId}`, applied);
  }

  // ---------------------------------------------------------------- rooms

  #room(roomId: string): RoomModel {
    let room = this.#rooms.get(roomId);
    if (room === undefined) {
      room = new RoomModel(roomId);
      this.#rooms.set(roomId, room);
      this.#bounds.set(roomId, { first: 0, next: 0 });
    }
    return room;
  }

  /** Every room this device knows, with its membership. */
  rooms(): RoomModel[] {
    return [...this.#rooms.values()];
  }

  /** One room. @throws ClientError `unknown-room`. */
  room(roomId: string): RoomModel {
    const room = this.#rooms.get(roomId);
    if (room === undefined)
      throw new ClientError('unknown-room', 'this client does not know the room', { roomId });
    return room;
  }

  /** The room's forward-secrecy policy, or undefined for an unencrypted room. */
  policy(roomId: string): RoomPolicy | undefined {
    return this.#cryptoOf().policyOf(roomId);
  }

  #applyState(room: RoomModel, event: RawEvent): void {
    room.applyState(event);
    if (event.type === 'm.room.encryption' && event.state_key === '') {
      let policy: RoomPolicy | undefined;
      try {
        policy = parseEncryptionContent(event.content);
      } catch {
        // An unsupported algorithm: the room stays as it was (spec: ignore unknown algorithms).
      }
      if (policy !== undefined) this.#applyPolicy(room.roomId, policy);
    }
    if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
      try {
        this.#cryptoOf().noteMembershipChange(room.roomId, membershipChangeOf(event));
      } catch {
        // Malformed member event: no membership change to note.
      }
      if (event.state_key === this.#session?.userId) {
        const membership = event.content?.['membership'];
        if (typeof membership === 'string') room.membership = membership as RoomModel['membership'];
      }
    }
  }

  #saveRoom(room: RoomModel): void {
    const ids = new Set(this.#store.get<string[]>('rooms') ?? []);
    if (!ids.has(room.roomId)) {
      ids.add(room.roomId);
      this.#store.set('rooms', [...ids]);
    }
    const saved: SavedRoom = {
      membership: room.membership,
      state: [...room.state.values()],
      ...(room.prevBatch === undefined ? {} : { prevBatch: room.prevBatch }),
      ...(room.gaps.length === 0 ? {} : { gaps: room.gaps }),
    };
    this.#store.set(`room:${room.roomId}`, saved);
  }

  #cache(room: RoomModel, event: TimelineEvent, where: 'append' | 'prepend' | 'update'): void {
    if (event.eventId === undefined) return;
    const bounds = this.#bounds.get(room.roomId) ?? { first: 0, next: 0 };
    let pos = this.#positions.get(event);
    if (pos === undefined) {
      pos = where === 'prepend' ? --bounds.first : bounds.next++;
      this.#bounds.set(room.roomId, bounds);
      this.#positions.set(event, pos);
    }
    this.#store.putTimelineEvent(room.roomId, pos, event.eventId, event);
  }

  /**
   * Creates a room. Encrypted by default with the `epoch` policy; the policy goes into the
   * initial `m.room.encryption` state (`org.weft.policy`), with `history_visibility: shared`:
   * the server serves history to members, and the policy decides what of it they can decrypt.
   */
  async createRoom(options: CreateRoomOptions = {}): Promise<string> {
    const initialState: Record<string, unknown>[] = [];
    let policy: RoomPolicy | undefined;
    if (options.policy !== null) {
      policy =
        options.policy === undefined
          ? DEFAULT_POLICY
          : typeof options.policy === 'string'
            ? { mode: options.policy }
            : options.policy;
      initialState.push({
        type: 'm.room.encryption',
        state_key: '',
        content: toEncryptionContent(policy),
      });
      initialState.push({
        type: 'm.room.history_visibility',
        state_key: '',
        // The server shows history to members; what they can read of it is the policy's job.
        content: { history_visibility: 'shared' },
      });
    }
    const res = await this.#api().post<{ room_id: string }>('/_matrix/client/v3/createRoom', {
      preset: 'private_chat',
      initial_state: initialState,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.invite === undefined ? {} : { invite: options.invite }),
    });
    const room = this.#room(res.room_id);
    if (policy !== undefined) this.#applyPolicy(res.room_id, policy);
    this.#saveRoom(room);
    return res.room_id;
  }

  /** Invites a user; `rekey: true` asks every Weft sender to start a new session. */
  async invite(roomId: string, userId: string, options: { rekey?: boolean } = {}): Promise<void> {
    await this.#api().post(matrixPath`/_matrix/client/v3/rooms/${roomId}/invite`, {
      user_id: userId,
      ...(options.rekey === true ? { [REKEY_FIELD]: true } : {}),
    });
  }

  /** Joins a room by ID or alias; returns the room ID. */
  async join(roomIdOrAlias: string): Promise<string> {
    const res = await this.#api().post<{ room_id: string }>(
      matrixPath`/_matrix/client/v3/join/${roomIdOrAlias}`,
      {},
    );
    this.#saveRoom(this.#room(res.room_id));
    return res.room_id;
  }

  /** Leaves a room. */
  async leave(roomId: string): Promise<void> {
    await this.#api().post(matrixPath`/_matrix/client/v3/rooms/${roomId}/leave`, {});
  }

  /** Kicks a user; `rekey: true` rotates sessions in every policy (Weft option). */
  async kick(
    roomId: string,
    userId: string,
    options: { reason?: string; rekey?: boolean } = {},
  ): Promise<void> {
    await this.#api().post(matrixPath`/_matrix/client/v3/rooms/${roomId}/kick`, {
      user_id: userId,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      ...(options.rekey === true ? { [REKEY_FIELD]: true } : {}),
    });
  }

  /** Sets this user's typing state in a room (`/typing`). */
  async setTyping(roomId: string, typing: boolean, timeoutMs = 30_000): Promise<void> {
    await this.#api().put(matrixPath`/_matrix/client/v3/rooms/${roomId}/typing/${this.userId}`, {
      typing,
      ...(typing ? { timeout: timeoutMs } : {}),
    });
  }

  /** Sends an `m.read` receipt for an event. */
  async sendReceipt(roomId: string, eventId: string): Promise<void> {
    await this.#api().post(
      matrixPath`/_matrix/client/v3/rooms/${roomId}/receipt/m.read/${eventId}`,
      {},
    );
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends an event with local echo: the event is in the timeline at once as `pending`, becomes
   * `sent` with its event ID, or `failed` (then {@link retrySend}). Encrypted rooms encrypt it
   * under their policy and deliver the room keys first. In `forward-secret` rooms the sender
   * cannot decrypt its own message later, so it keeps the plaintext (sealed at rest).
   */
  async send(
    roomId: string,
    content: Record<string, unknown>,
    type = 'm.room.message',
  ): Promise<TimelineEvent> {
    const room = this.room(roomId);
    this.#txnCounter += 1;
    const echo: TimelineEvent = {
      txnId: `weft.${Date.now()}.${this.#txnCounter}`,
      sender: this.userId,
      type,
      content,
      encrypted: this.#cryptoOf().policyOf(roomId) !== undefined,
      status: 'pending',
    };
    room.timeline.push(echo);
    this.#emit(roomId, echo);
    await this.#deliver(room, echo);
    return echo;
  }

  /** Sends a text message (`m.text`). */
  sendText(roomId: string, body: string): Promise<TimelineEvent> {
    return this.send(roomId, { msgtype: 'm.text', body });
  }

  /** Retries a failed local echo with the same transaction ID (the server deduplicates). */
  async retrySend(roomId: string, txnId: string): Promise<TimelineEvent> {
    const room = this.room(roomId);
    const echo = room.timeline.find((e) => e.txnId === txnId);
    if (echo === undefined || echo.status === 'sent') {
      throw new ClientError('send-failed', 'no failed event with this transaction ID', { roomId });
    }
    echo.status = 'pending';
    this.#emit(roomId, echo);
    await this.#deliver(room, echo);
    return echo;
  }

  async #deliver(room: RoomModel, echo: TimelineEvent): Promise<void> {
    const roomId = room.roomId;
    try {
      let type = echo.type;
      let content: Record<string, unknown> = echo.content;
      if (echo.encrypted) {
        // Members are read when the key is built, not now: a kick applied meanwhile counts.
        const encrypted = await this.#cryptoOf().encrypt(roomId, type, content, () =>
          room.members(),
        );
        await this.sendToDevice(encrypted.toDevice);
        type = 'm.room.encrypted';
        content = encrypted.content as unknown as Record<string, unknown>;
      }
      const res = await this.#api().put<{ event_id: string }>(
        matrixPath`/_matrix/client/v3/rooms/${roomId}/send/${type}/${echo.txnId ?? ''}`,
        content,
      );
      echo.eventId = res.event_id;
      echo.status = 'sent';
      if (this.#keepsPlaintext(roomId)) {
        this.#store.putPlaintext(roomId, res.event_id, { type: echo.type, content: echo.content });
      }
      // The sync may have delivered the event before this response: keep only the echo.
      room.timeline = room.timeline.filter((e) => e === echo || e.eventId !== res.event_id);
      this.#cache(room, echo, 'append');
      this.#store.flush();
      this.#emit(roomId, echo);
    } catch (cause) {
      echo.status = 'failed';
      this.#emit(roomId, echo);
      throw new ClientError('send-failed', 'the event could not be sent', { roomId }, { cause });
    }
  }

  #keepsPlaintext(roomId: string): boolean {
    const policy = this.#cryptoOf().policyOf(roomId);
    return policy !== undefined && !POLICY_RULES[policy.mode].receiverKeepsKeys;
  }

  /** Sends to-device messages, one `/sendToDevice` request per event type. */
  async sendToDevice(messages: readonly ToDeviceMessage[]): Promise<void> {
    const byType = new Map<string, Record<string, Record<string, unknown>>>();
    for (const m of messages) {
      let map = byType.get(m.type);
      if (map === undefined) {
        map = {};
        byType.set(m.type, map);
      }
      const forUser = map[m.userId] ?? {};
      forUser[m.deviceId] = m.content;
      map[m.userId] = forUser;
    }
    for (const [type, map] of byType) {
      this.#txnCounter += 1;
      await this.#api().put(
        matrixPath`/_matrix/client/v3/sendToDevice/${type}/${`weft.td.${Date.now()}.${this.#txnCounter}`}`,
        { messages: map },
      );
    }
  }

  /**
   * Encrypts a room event without sending it: the to-device key messages and the encrypted
   * content. For callers that deliver themselves (and for tests of late keys).
   */
  async encryptEvent(
    roomId: string,
    type: string,
    content: Record<string, unknown>,
  ): Promise<{ toDevice: readonly ToDeviceMessage[]; content: Record<string, unknown> }> {
    const room = this.room(roomId);
    const encrypted = await this.#cryptoOf().encrypt(roomId, type, content, () => room.members());
    return {
      toDevice: encrypted.toDevice,
      content: encrypted.content as unknown as Record<string, unknown>,
    };
  }

  /** Sends prepared content as-is (no encryption, no echo); returns the event ID. */
  async sendPrepared(
    roomId: string,
    type: string,
    content: Record<string, unknown>,
  ): Promise<string> {
    this.#txnCounter += 1;
    const res = await this.#api().put<{ event_id: string }>(
      matrixPath`/_matrix/client/v3/rooms/${roomId}/send/${type}/${`weft.raw.${Date.now()}.${this.#txnCounter}`}`,
      content,
    );
    return res.event_id;
  }

  // ---------------------------------------------------------------- receiving

  async #toTimeline(roomId: string, raw: RawEvent): Promise<TimelineEvent> {
    const event: TimelineEvent = {
      ...(typeof raw.event_id === 'string' ? { eventId: raw.event_id } : {}),
      sender: String(raw.sender),
      type: String(raw.type),
      content: raw.content ?? {},
      encrypted: raw.type === 'm.room.encrypted',
      status: 'sent',
      raw,
    };
    if (event.encrypted) await this.#decryptInto(roomId, event);
    return event;
  }

  async #decryptInto(roomId: string, event: TimelineEvent): Promise<void> {
    const raw = event.raw;
    if (raw === undefined) return;
    try {
      const decrypted = await this.#cryptoOf().decrypt(roomId, raw);
      event.type = decrypted.type;
      event.content = decrypted.content;
      event.decryptedWith = 'key';
      delete event.decryptionError;
      if (this.#keepsPlaintext(roomId) && event.eventId !== undefined) {
        this.#store.putPlaintext(roomId, event.eventId, {
          type: event.type,
          content: event.content,
        });
      }
    } catch (error) {
      const archived =
        event.eventId === undefined
          ? undefined
          : this.#store.getPlaintext<{ type: string; content: Record<string, unknown> }>(
              roomId,
              event.eventId,
            );
      if (archived !== undefined) {
        event.type = archived.type;
        event.content = archived.content;
        event.decryptedWith = 'archive';
        delete event.decryptionError;
        return;
      }
      const code = ClientError.isInstance(error) ? error.code : 'decrypt-failed';
      const reason = error instanceof Error ? error.message : 'decryption failed';
      event.decryptionError = { code, reason };
    }
  }

  /** Decrypts one raw `m.room.encrypted` event as this device can (for inspecting ciphertext). */
  async decryptEvent(roomId: string, raw: RawEvent): Promise<TimelineEvent> {
    return this.#toTimeline(roomId, raw);
  }

  async #onToDevice(event: RawEvent): Promise<void> {
    if (event.type !== 'm.room.encrypted' || this.#olm === undefined) return;
    try {
      const { plaintext, senderKey } = await this.#olm.decryptToDevice(
        String(event.sender),
        event.content ?? {},
      );
      if (plaintext.type === 'm.room_key' || plaintext.type === 'm.forwarded_room_key') {
        await this.#cryptoOf().receiveKey(plaintext, senderKey);
      }
    } catch (error) {
      // A failure to reach the homeserver (e.g. /keys/query for the sender's device) aborts the
      // batch before `since` is saved, so the message comes again; the Olm state was not touched
      // (decryptToDevice resolves the device first).
      if (isTransient(error)) throw error;
      // An undecryptable or refused to-device message is dropped; the events it would have
      // unlocked keep their "missing key" reason.
    }
  }

  async #retryArrived(): Promise<void> {
    if (this.#arrivedKeys.size === 0) return;
    const arrived = new Set(this.#arrivedKeys);
    this.#arrivedKeys.clear();
    for (const room of this.#rooms.values()) {
      for (const event of room.timeline) {
        const sessionId = event.raw?.content?.['session_id'];
        if (
          event.decryptionError === undefined ||
          !arrived.has(`${room.roomId}|${String(sessionId)}`)
        )
          continue;
        await this.#decryptInto(room.roomId, event);
        this.#cache(room, event, 'update');
        this.#emit(room.roomId, event);
      }
    }
  }

  async #appendTimeline(room: RoomModel, raw: RawEvent): Promise<void> {
    const txnId = (raw['unsigned'] as Record<string, unknown> | undefined)?.['transaction_id'];
    const existing = room.timeline.find(
      (e) =>
        (raw.event_id !== undefined && e.eventId === raw.event_id) ||
        (txnId !== undefined && e.txnId === txnId),
    );
    if (existing !== undefined) return;
    const event = await this.#toTimeline(room.roomId, raw);
    room.timeline.push(event);
    this.#cache(room, event, 'append');
    this.#emit(room.roomId, event);
  }

  /**
   * One `/sync` request and its processing. The `since` token is persisted after each response,
   * so a restarted client continues where it stopped.
   */
  async syncOnce(timeoutMs = 0, signal?: AbortSignal): Promise<void> {
    try {
      await this.#syncOnce(timeoutMs, signal);
    } catch (error) {
      if (
        error instanceof MatrixError &&
        error.status === 401 &&
        error.errcode === 'M_UNKNOWN_TOKEN'
      )
        this.#loggedOut(error.softLogout);
      throw error;
    }
  }

  /**
   * The homeserver refused the token: drop it (keeping the device with a soft logout), report a
   * `logged-out` warning and throw `logged-out`.
   */
  #loggedOut(softLogout: boolean): never {
    const session = this.#session;
    if (session !== undefined) {
      if (!softLogout) this.#store.set('since', undefined);
      this.#store.set('session', softLogout ? { ...session, loggedOut: true } : undefined);
      this.#session = undefined;
      this.#http = undefined;
      this.#warn({
        code: 'logged-out',
        softLogout,
        message: softLogout
          ? 'the homeserver no longer accepts this session (soft logout): log in again to continue as this device'
          : 'this device was logged out: log in again',
      });
    }
    throw new ClientError('logged-out', 'the homeserver no longer accepts the access token');
  }

  async #syncOnce(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const since = this.#store.get<string>('since');
    const res = await this.#api().request<SyncResponse>({
      method: 'GET',
      path: '/_matrix/client/v3/sync',
      query: { since, timeout: timeoutMs },
      timeoutMs: timeoutMs + 30_000,
      ...(signal === undefined ? {} : { signal }),
    });
    const joined = Object.entries(res.rooms?.join ?? {});
    const left = Object.entries(res.rooms?.leave ?? {});
    const gaps = new Map<string, { events: RawEvent[]; next: string | undefined }>();
    // 1. Room state, so policies are known before keys arrive.
    for (const [roomId, data] of [...joined, ...left]) {
      const room = this.#room(roomId);
      for (const e of data.state?.events ?? []) this.#applyState(room, e);
      for (const e of data.timeline?.events ?? [])
        if (typeof e.state_key === 'string') this.#applyState(room, e);
      const prevBatch = data.timeline?.prev_batch;
      if (data.timeline?.limited === true && prevBatch !== undefined) {
        // Events were left out between what this device holds and this chunk: fetch them now,
        // before any key or Olm state changes, so a failure retries the whole batch.
        if (room.timeline.some((e) => e.eventId !== undefined))
          gaps.set(roomId, await this.#fetchGap(room, prevBatch, GAP_PAGES, signal));
        else room.prevBatch = prevBatch;
      } else if (room.prevBatch === undefined && prevBatch !== undefined) {
        room.prevBatch = prevBatch;
      }
    }
    for (const [roomId, data] of Object.entries(res.rooms?.invite ?? {})) {
      const room = this.#room(roomId);
      for (const e of data.invite_state?.events ?? []) this.#applyState(room, e);
      room.membership = 'invite';
      this.#saveRoom(room);
    }
    // 2. Device lists and to-device events (room keys).
    this.#olm?.markOutdated(res.device_lists?.changed ?? []);
    this.#olm?.forgetUsers(res.device_lists?.left ?? []);
    for (const e of res.to_device?.events ?? []) await this.#onToDevice(e);
    // 3. Timelines, then events waiting for keys that just arrived.
    for (const [roomId, data] of [...joined, ...left]) {
      const room = this.#room(roomId);
      const gap = gaps.get(roomId);
      for (const e of gap?.events ?? []) await this.#appendTimeline(room, e);
      for (const e of data.timeline?.events ?? []) await this.#appendTimeline(room, e);
      if (gap?.next !== undefined) {
        // Left unfilled: loadOlder continues it, inserting before the oldest event it fetched.
        const before = [...gap.events, ...(data.timeline?.events ?? [])].find(
          (e) => typeof e.event_id === 'string',
        )?.event_id;
        if (before !== undefined) room.gaps.push({ from: gap.next, before });
      }
      const ephemeral = (data as JoinedRoom).ephemeral?.events ?? [];
      for (const e of ephemeral) {
        if (e.type === 'm.typing')
          room.typing = (e.content?.['user_ids'] as string[] | undefined) ?? [];
        if (e.type === 'm.receipt') room.applyReceipts(e.content ?? {});
      }
      this.#saveRoom(room);
    }
    await this.#retryArrived();
    // 4. Replenish one-time keys and the fallback key (spec: `device_one_time_keys_count`).
    await this.#olm?.uploadKeys(
      res.device_one_time_keys_count?.['signed_curve25519'] ?? 0,
      res.device_unused_fallback_key_types,
    );
    this.#store.flush();
    this.#store.set('since', res.next_batch);
  }

  /**
   * Starts the sync loop (long-polling). Network failures are retried by the transport; if a
   * request still fails the loop waits with exponential backoff and tries again.
   */
  startSync(timeoutMs = 30_000): void {
    if (this.#syncing !== undefined) return;
    const abort = new AbortController();
    this.#syncAbort = abort;
    this.#syncing = (async () => {
      let failures = 0;
      while (!abort.signal.aborted) {
        try {
          await this.syncOnce(timeoutMs, abort.signal);
          failures = 0;
        } catch {
          // A revoked token never comes back: the loop ends (a `logged-out` warning says why).
          if (abort.signal.aborted || !this.loggedIn) break;
          failures += 1;
          await new Promise((r) =>
            setTimeout(r, backoffDelay(failures, SYNC_BACKOFF, Math.random)),
          );
        }
      }
    })();
  }

  /**
   * The events of a gap, oldest first: `/messages` pages backwards from `from` until an event
   * this device holds (or the room's start), at most `pages` pages. `next` is where the gap
   * continues when it was not filled: the page limit was reached, or the server refused a page
   * for good (e.g. 403 in a room the user left). A transient failure (no answer, 5xx, 429) throws,
   * so the sync batch is retried.
   */
  async #fetchGap(
    room: RoomModel,
    from: string,
    pages: number,
    signal?: AbortSignal,
  ): Promise<{ events: RawEvent[]; next: string | undefined }> {
    const held = new Set(room.timeline.map((e) => e.eventId).filter((id) => id !== undefined));
    const gap: RawEvent[] = [];
    let token: string | undefined = from;
    for (let page = 0; token !== undefined; page++) {
      if (page >= pages) return { events: gap.reverse(), next: token };
      let res: { chunk?: RawEvent[]; end?: string };
      try {
        res = await this.#api().request({
          method: 'GET',
          path: matrixPath`/_matrix/client/v3/rooms/${room.roomId}/messages`,
          query: { dir: 'b', limit: 100, from: token },
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (error) {
        if (transient(error)) throw error;
        return { events: gap.reverse(), next: token };
      }
      const chunk = res.chunk ?? [];
      let reached = false;
      for (const raw of chunk) {
        if (typeof raw.event_id === 'string' && held.has(raw.event_id)) {
          reached = true;
          break;
        }
        gap.push(raw);
      }
      if (reached || chunk.length === 0 || res.end === token) break;
      token = res.end;
    }
    return { events: gap.reverse(), next: undefined };
  }

  /**
   * Loads the next page of the newest unfilled gap into its place in the timeline. Returns how
   * many events were inserted, or undefined when the room has no gap.
   */
  async #fillGap(room: RoomModel): Promise<number | undefined> {
    const gap = room.gaps.at(-1);
    if (gap === undefined) return undefined;
    const page = await this.#fetchGap(room, gap.from, 1);
    const events: TimelineEvent[] = [];
    for (const raw of page.events) events.push(await this.#toTimeline(room.roomId, raw));
    room.gaps.pop();
    // The page went from `gap.from`; if it was refused nothing came and the gap stays.
    if (page.next !== undefined && (events.length > 0 || page.next !== gap.from)) {
      const before = events[0]?.eventId ?? gap.before;
      room.gaps.push({ from: page.next, before });
    } else if (page.next !== undefined) {
      room.gaps.push(gap);
    }
    if (events.length > 0) {
      const at = room.timeline.findIndex((e) => e.eventId === gap.before);
      const index = at < 0 ? room.timeline.length : at;
      room.timeline = [...room.timeline.slice(0, index), ...events, ...room.timeline.slice(index)];
      // Positions are dense: store the whole timeline again in its new order.
      this.#store.dropTimeline(room.roomId);
      this.#bounds.set(room.roomId, { first: 0, next: 0 });
      for (const event of room.timeline) {
        this.#positions.delete(event);
        this.#cache(room, event, 'append');
      }
      for (const event of events) this.#emit(room.roomId, event);
    }
    this.#saveRoom(room);
    this.#store.flush();
    return events.length;
  }

  /** Stops the sync loop and waits for it to end. */
  async stopSync(): Promise<void> {
    this.#syncAbort?.abort();
    await this.#syncing;
    this.#syncing = undefined;
  }

  // ---------------------------------------------------------------- history

  /**
   * Loads up to `limit` older events (`/messages`, `dir=b`) before the oldest one held and
   * decrypts them with the keys the room's policy let this device keep. Returns how many loaded;
   * 0 means the start of the room (as visible to this user) was reached.
   */
  async loadOlder(roomId: string, limit = 50): Promise<number> {
    const room = this.room(roomId);
    // A gap a sync left unfilled comes first: it is newer than anything before the held events.
    for (let left = room.gaps.length; left > 0; left--) {
      const before = room.gaps.length;
      const filled = await this.#fillGap(room);
      if (filled === undefined) break;
      if (filled > 0) return filled;
      // Refused (the gap stays, to try again later): go on before the oldest event held.
      if (room.gaps.length === before) break;
    }
    const res = await this.#api().get<{ chunk?: RawEvent[]; end?: string }>(
      matrixPath`/_matrix/client/v3/rooms/${roomId}/messages`,
      { dir: 'b', limit, from: room.prevBatch },
    );
    // One lookup set and one array join per page: a 10,000-event history comes in 100 pages.
    const held = new Set(room.timeline.map((e) => e.eventId));
    const older: TimelineEvent[] = [];
    // The chunk runs newest to oldest (`dir=b`); decrypt oldest first. A Megolm session only
    // ratchets forward, so each message then continues from the one before it, while newest
    // first re-derives every key from an earlier copy (about half the speed; bench/index.ts).
    for (const raw of [...(res.chunk ?? [])].reverse()) {
      if (typeof raw.event_id === 'string' && held.has(raw.event_id)) continue;
      const event = await this.#toTimeline(roomId, raw);
      held.add(event.eventId);
      older.push(event);
    }
    // Cached positions count down from the oldest held event, so the page's newest goes first.
    for (const event of [...older].reverse()) this.#cache(room, event, 'prepend');
    const loaded = older.length;
    room.timeline = [...older, ...room.timeline];
    room.prevBatch = res.end;
    this.#saveRoom(room);
    this.#store.flush();
    return loaded;
  }

  /**
   * Drops the local copy of a room's history (the cached timeline). Keys stay as the policy
   * keeps them; in `forward-secret` rooms this device's sealed plaintext archive stays too.
   */
  dropHistory(roomId: string): void {
    const room = this.room(roomId);
    room.timeline = [];
    room.prevBatch = undefined;
    room.gaps = [];
    this.#store.dropTimeline(roomId);
    this.#bounds.set(roomId, { first: 0, next: 0 });
    this.#saveRoom(room);
  }

  /** Drops the local history and loads all of it again from the server. Returns the count. */
  async reloadHistory(roomId: string, pageSize = 100): Promise<number> {
    this.dropHistory(roomId);
    let total = 0;
    for (;;) {
      const n = await this.loadOlder(roomId, pageSize);
      total += n;
      if (n === 0 || this.room(roomId).prevBatch === undefined) break;
    }
    return total;
  }

  /** Stops syncing and closes the store (zeroing its keys). */
  async close(): Promise<void> {
    await this.stopSync();
    this.#store.close();
  }
}

/**
 * True for a failure to reach the homeserver that a later attempt may not meet: no answer, a
 * timeout, 5xx, 429, or a 401 (the token, handled by the sync). Anything else (a refusal, a
 * malformed message) settles the message, so a sender cannot wedge the sync with it.
 */
function isTransient(error: unknown): boolean {
  if (error instanceof TransportError)
    return error.code === 'network' || error.code === 'timeout' || error.code === 'aborted';
  return (
    error instanceof MatrixError &&
    (error.status >= 500 || error.status === 429 || error.status === 401)
  );
}

/** True when two policies decide identically. */
function samePolicy(a: RoomPolicy, b: RoomPolicy): boolean {
  return (
    a.mode === b.mode &&
    a.rotateAfterMessages === b.rotateAfterMessages &&
    a.rotateAfterMs === b.rotateAfterMs
  );
}

interface JoinedRoom {
  readonly state?: { readonly events?: RawEvent[] };
  readonly timeline?: {
    readonly events?: RawEvent[];
    readonly prev_batch?: string;
    readonly limited?: boolean;
  };
  readonly ephemeral?: { readonly events?: RawEvent[] };
}

interface SyncResponse {
  readonly next_batch: string;
  readonly rooms?: {
    readonly join?: Record<string, JoinedRoom>;
    readonly leave?: Record<string, JoinedRoom>;
    readonly invite?: Record<string, { readonly invite_state?: { readonly events?: RawEvent[] } }>;
  };
  readonly to_device?: { readonly events?: RawEvent[] };
  readonly device_lists?: { readonly changed?: string[]; readonly left?: string[] };
  readonly device_one_time_keys_count?: Record<string, number>;
  readonly device_unused_fallback_key_types?: string[];
}
