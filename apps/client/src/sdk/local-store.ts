/**
 * The client's local store: one SQLite file (`node:sqlite`) holding the sync token, the cached
 * room state and timelines, and all crypto state. Every value is sealed with the key derived from
 * the user's passphrase (store-cipher.ts); the Olm account and sessions are additionally stored
 * only as pickles encrypted under the derived pickle key. Row keys (room, session and event IDs)
 * are public identifiers and stay in the clear so rows can be found and deleted.
 */

import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { parseAnyJson } from '@weft/canonical-json';

import { ClientError } from '../errors.ts';
import {
  CURRENT_KDF,
  deriveStoreKeys,
  type KdfParams,
  LEGACY_KDF,
  newSalt,
  openValue,
  parseKdfParams,
  type StoreKeys,
  sealValue,
} from './store-cipher.ts';

const VERIFIER = 'weft-client-store-v1';
/** Replay records or timeline rows buffered before a write. */
const WRITE_BATCH = 512;
/** Sessions whose replay records are held in memory (the most recently loaded). */
const REPLAY_SESSIONS_CACHED = 256;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS olm_sessions (
  sender_key TEXT NOT NULL, session_id TEXT NOT NULL, pickle TEXT NOT NULL, last_used INTEGER NOT NULL,
  PRIMARY KEY (sender_key, session_id));
CREATE TABLE IF NOT EXISTS room_keys (
  room_id TEXT NOT NULL, session_id TEXT NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (room_id, session_id));
CREATE TABLE IF NOT EXISTS timeline (
  room_id TEXT NOT NULL, pos INTEGER NOT NULL, event_id TEXT NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (room_id, event_id));
CREATE INDEX IF NOT EXISTS timeline_pos ON timeline (room_id, pos);
CREATE TABLE IF NOT EXISTS plaintexts (
  room_id TEXT NOT NULL, event_id TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (room_id, event_id));
CREATE TABLE IF NOT EXISTS room_key_tombstones (
  room_id TEXT NOT NULL, session_id TEXT NOT NULL, PRIMARY KEY (room_id, session_id));
CREATE TABLE IF NOT EXISTS replay (
  session_id TEXT NOT NULL, message_index INTEGER NOT NULL, event_id TEXT NOT NULL,
  PRIMARY KEY (session_id, message_index));
`;

/** A row of the cached timeline. */
export interface StoredTimelineRow {
  readonly pos: number;
  readonly eventId: string;
  readonly event: Record<string, unknown>;
}

/** The encrypted SQLite store behind a {@link WeftClient}. */
export class LocalStore {
  readonly #db: DatabaseSync;
  readonly #keys: StoreKeys;
  readonly #statements = new Map<string, StatementSync>();
  /** Replay records not yet written (each is new: {@link checkReplay} checks memory first). */
  #replayPending: Array<{ sessionId: string; messageIndex: number; eventId: string }> = [];
  /** Timeline rows not yet written, by room and event ID (sealed when written). */
  readonly #timelinePending = new Map<
    string,
    { roomId: string; pos: number; eventId: string; event: unknown }
  >();
  /** Replay records by session (message index → event ID), loaded once per session. */
  readonly #replaySeen = new Map<string, Map<number, string>>();
  /** Room keys were deleted or overwritten: the WAL still holds their old copies. */
  #eraseOwed = false;

  /** The lock file held while the store is open (undefined for an in-memory store). */
  readonly #lock: string | undefined;

  private constructor(db: DatabaseSync, keys: StoreKeys, lock: string | undefined) {
    this.#db = db;
    this.#keys = keys;
    this.#lock = lock;
  }

  /**
   * Takes the store's lock: `<path>.lock` holding this process's PID, put in place atomically (the
   * PID is written to a temporary file first, then hard-linked to the lock name, which fails if a
   * lock exists): a reader never sees a lock without its PID. A lock whose PID parses and whose
   * process no longer runs is taken over by renaming it aside (only one process can) before taking
   * the lock again; a lock that cannot be read or parsed yet is waited for briefly.
   * @throws ClientError `store-locked` when another open store (in any process) holds it.
   */
  static #acquireLock(path: string): string | undefined {
    if (path === ':memory:' || path === '') return undefined;
    const lock = `${path}.lock`;
    const unique = `${process.pid}.${randomBytes(6).toString('hex')}`;
    const tmp = `${lock}.${unique}.tmp`;
    writeFileSync(tmp, String(process.pid), { mode: 0o600 });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, lock);
          return lock;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const text = readLock(lock);
        const holder = text === undefined ? Number.NaN : Number(text.trim());
        const parsed =
          /^\d+$/.test(text?.trim() ?? '') && Number.isSafeInteger(holder) && holder > 0;
        if (parsed && processRuns(holder)) {
          throw new ClientError(
            'store-locked',
            `the store is open in another client (process ${holder}); close it first`,
          );
        }
        if (!parsed) {
          // Gone meanwhile (try again at once), or not a PID: a lock being written, or garbage.
          if (text !== undefined) {
            if (attempt >= LOCK_WAITS) {
              throw new ClientError(
                'store-locked',
                `the store's lock file ${lock} holds no process ID; if no client is running, delete it`,
              );
            }
            sleepSync(LOCK_WAIT_MS);
          }
          continue;
        }
        // Stale: its process is gone. Renaming it aside is atomic, so of several processes taking
        // it over one succeeds; the others find no lock (or the winner's) on the next attempt.
        const aside = `${lock}.${unique}.stale`;
        try {
          renameSync(lock, aside);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          continue;
        }
        const moved = readLock(aside);
        if (moved !== undefined && moved.trim() !== text?.trim()) {
          // Another process replaced the stale lock with its own between the read and the rename:
          // put it back if the name is still free, and let the next attempt decide.
          try {
            linkSync(aside, lock);
          } catch {
            // Someone holds it now.
          }
        }
        try {
          unlinkSync(aside);
        } catch {
          // Already gone.
        }
      }
    } finally {
      unlinkSync(tmp);
    }
  }

  /**
   * Opens (or creates) the store at `path` with `passphrase`.
   * @throws ClientError `wrong-passphrase` when the passphrase does not open an existing store.
   */
  static open(path: string, passphrase: string): LocalStore {
    const lock = LocalStore.#acquireLock(path);
    try {
      return LocalStore.#openLocked(path, passphrase, lock);
    } catch (error) {
      if (lock !== undefined) unlinkSync(lock);
      throw error;
    }
  }

  static #openLocked(path: string, passphrase: string, lock: string | undefined): LocalStore {
    const db = new DatabaseSync(path);
    // WAL with synchronous=NORMAL: durable across crashes of the process, one fsync per checkpoint.
    // secure_delete: deleted rows and freed pages are overwritten with zeros, so a deleted
    // forward-secret key leaves no copy in the file (the WAL is truncated after deletions, see
    // {@link flush}).
    db.exec(
      'PRAGMA secure_delete = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;',
    );
    db.exec(SCHEMA);
    const saltRow = db.prepare('SELECT value FROM meta WHERE name = ?').get('salt') as
      | { value: Uint8Array }
      | undefined;
    let salt: Uint8Array;
    if (saltRow === undefined) {
      salt = newSalt();
      const keys = deriveStoreKeys(passphrase, salt, CURRENT_KDF);
      // Salt and verifier in one transaction: a crash between them must not leave a store with
      // a salt but no verifier (which no passphrase would ever open).
      db.exec('BEGIN IMMEDIATE');
      try {
        db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)').run('salt', salt);
        db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)').run(
          'kdf',
          new TextEncoder().encode(JSON.stringify({ alg: 'scrypt', ...CURRENT_KDF })),
        );
        db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)').run(
          'verifier',
          sealValue(keys.valueKey, 'meta/verifier', VERIFIER),
        );
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        db.close();
        throw error;
      }
      return new LocalStore(db, keys, lock);
    }
    salt = Uint8Array.from(saltRow.value);
    // Stores from before the parameters were stored used N = 2^15 (still readable).
    const kdfRow = db.prepare('SELECT value FROM meta WHERE name = ?').get('kdf') as
      | { value: Uint8Array }
      | undefined;
    let params: KdfParams | undefined = LEGACY_KDF;
    if (kdfRow !== undefined) {
      try {
        params = parseKdfParams(JSON.parse(new TextDecoder().decode(kdfRow.value)));
      } catch {
        params = undefined;
      }
    }
    if (params === undefined) {
      db.close();
      throw new ClientError('store-corrupt', 'the store names unusable key-derivation parameters');
    }
    const keys = deriveStoreKeys(passphrase, salt, params);
    const verifier = db.prepare('SELECT value FROM meta WHERE name = ?').get('verifier') as
      | { value: Uint8Array }
      | undefined;
    let ok = false;
    try {
      ok =
        verifier !== undefined &&
        openValue(keys.valueKey, 'meta/verifier', verifier.value) === VERIFIER;
    } catch {
      ok = false;
    }
    if (!ok) {
      keys.valueKey.fill(0);
      keys.pickleKey.fill(0);
      db.close();
      throw new ClientError('wrong-passphrase', 'the passphrase does not open this store');
    }
    return new LocalStore(db, keys, lock);
  }

  /** A prepared statement, compiled once per store (statements run thousands of times per sync). */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The pickle key for Olm/Megolm pickles (derived from the passphrase). */
  get pickleKey(): Uint8Array {
    return this.#keys.pickleKey;
  }

  #seal(where: string, value: unknown): Uint8Array {
    return sealValue(this.#keys.valueKey, where, JSON.stringify(value));
  }

  #open<T>(where: string, sealed: Uint8Array): T {
    try {
      return parseAnyJson(openValue(this.#keys.valueKey, where, sealed)) as T;
    } catch (cause) {
      throw new ClientError(
        'store-corrupt',
        `a stored value failed authentication (${where.split('/')[0]})`,
        {},
        { cause },
      );
    }
  }

  /** Reads a sealed JSON value by name. */
  get<T>(name: string): T | undefined {
    const row = this.#prepare('SELECT value FROM kv WHERE name = ?').get(name) as
      | { value: Uint8Array }
      | undefined;
    return row === undefined ? undefined : this.#open<T>(`kv/${name}`, row.value);
  }

  /** Writes a sealed JSON value by name (`undefined` deletes it). */
  set(name: string, value: unknown): void {
    if (value === undefined) {
      this.#prepare('DELETE FROM kv WHERE name = ?').run(name);
      return;
    }
    this.#prepare(
      'INSERT INTO kv (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value',
    ).run(name, this.#seal(`kv/${name}`, value));
  }

  /** Every Olm session pickle held with a device (most recently used first). */
  olmSessions(senderKey: string): Array<{ sessionId: string; pickle: string }> {
    return (
      this.#prepare(
        'SELECT session_id, pickle FROM olm_sessions WHERE sender_key = ? ORDER BY last_used DESC',
      ).all(senderKey) as Array<{ session_id: string; pickle: string }>
    ).map((r) => ({ sessionId: r.session_id, pickle: r.pickle }));
  }

  /** Forgets every Olm session (the account they belonged to was replaced). */
  clearOlmSessions(): void {
    this.#prepare('DELETE FROM olm_sessions').run();
  }

  /** Stores an Olm session pickle (already encrypted under the pickle key). */
  putOlmSession(senderKey: string, sessionId: string, pickle: string): void {
    this.#prepare(
      `INSERT INTO olm_sessions (sender_key, session_id, pickle, last_used) VALUES (?, ?, ?, ?)
         ON CONFLICT(sender_key, session_id) DO UPDATE SET pickle = excluded.pickle, last_used = excluded.last_used`,
    ).run(senderKey, sessionId, pickle, Date.now());
  }

  /** Reads a sealed room-key record. */
  getRoomKey<T>(roomId: string, sessionId: string): T | undefined {
    const row = this.#prepare(
      'SELECT value FROM room_keys WHERE room_id = ? AND session_id = ?',
    ).get(roomId, sessionId) as { value: Uint8Array } | undefined;
    return row === undefined
      ? undefined
      : this.#open<T>(`room_keys/${roomId}/${sessionId}`, row.value);
  }

  /** Writes a sealed room-key record. */
  putRoomKey(roomId: string, sessionId: string, record: unknown): void {
    this.#prepare(
      `INSERT INTO room_keys (room_id, session_id, value) VALUES (?, ?, ?)
         ON CONFLICT(room_id, session_id) DO UPDATE SET value = excluded.value`,
    ).run(roomId, sessionId, this.#seal(`room_keys/${roomId}/${sessionId}`, record));
    // A replaced record (a key ratcheted forward) leaves its old copy in the WAL until truncated.
    this.#eraseOwed = true;
  }

  /**
   * Erases a room key's row (forward-secret deletion relies on this being a real delete): the
   * row is zeroed in place (`secure_delete`) and the WAL holding older copies is truncated at the
   * next {@link flush} (once per sync batch).
   */
  deleteRoomKey(roomId: string, sessionId: string): void {
    this.#prepare('DELETE FROM room_keys WHERE room_id = ? AND session_id = ?').run(
      roomId,
      sessionId,
    );
    this.#eraseOwed = true;
  }

  /** Records that a single-use room key was used and deleted (it must never be stored again). */
  putRoomKeyTombstone(roomId: string, sessionId: string): void {
    this.#prepare(
      'INSERT INTO room_key_tombstones (room_id, session_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ).run(roomId, sessionId);
  }

  /** Whether a room key was used and deleted. */
  hasRoomKeyTombstone(roomId: string, sessionId: string): boolean {
    return (
      this.#prepare('SELECT 1 FROM room_key_tombstones WHERE room_id = ? AND session_id = ?').get(
        roomId,
        sessionId,
      ) !== undefined
    );
  }

  /**
   * Copies the WAL into the database file and truncates it to zero bytes, so deleted room keys
   * leave no old copy in the WAL (with `secure_delete` the file holds none either). Skipped while
   * a transaction is open; the next flush does it.
   */
  #truncateWal(): void {
    if (!this.#eraseOwed || this.#db.isTransaction) return;
    this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    this.#eraseOwed = false;
  }

  /** The session IDs of every key held for a room. */
  roomKeyIds(roomId: string): string[] {
    return (
      this.#prepare('SELECT session_id FROM room_keys WHERE room_id = ?').all(roomId) as Array<{
        session_id: string;
      }>
    ).map((r) => r.session_id);
  }

  /**
   * Appends or replaces an event in the cached timeline at position `pos`. Rows are buffered and
   * written by {@link flush} in one transaction (a history page or a sync response writes
   * hundreds of rows; a transaction each would cost a commit each).
   */
  putTimelineEvent(roomId: string, pos: number, eventId: string, event: unknown): void {
    this.#timelinePending.set(`${roomId}\u0000${eventId}`, { roomId, pos, eventId, event });
    if (this.#timelinePending.size >= WRITE_BATCH) this.flush();
  }

  /** The cached timeline of a room, oldest first. */
  timeline(roomId: string): StoredTimelineRow[] {
    this.flush();
    return (
      this.#prepare('SELECT pos, event_id, value FROM timeline WHERE room_id = ? ORDER BY pos').all(
        roomId,
      ) as Array<{ pos: number; event_id: string; value: Uint8Array }>
    ).map((r) => ({
      pos: r.pos,
      eventId: r.event_id,
      event: this.#open<Record<string, unknown>>(`timeline/${roomId}/${r.event_id}`, r.value),
    }));
  }

  /** Drops the cached timeline of a room. */
  dropTimeline(roomId: string): void {
    for (const [key, row] of this.#timelinePending)
      if (row.roomId === roomId) this.#timelinePending.delete(key);
    this.#prepare('DELETE FROM timeline WHERE room_id = ?').run(roomId);
  }

  /** Keeps a decrypted event's plaintext, sealed (forward-secret rooms' own archive). */
  putPlaintext(roomId: string, eventId: string, plaintext: unknown): void {
    this.#prepare(
      `INSERT INTO plaintexts (room_id, event_id, value) VALUES (?, ?, ?)
         ON CONFLICT(room_id, event_id) DO UPDATE SET value = excluded.value`,
    ).run(roomId, eventId, this.#seal(`plaintexts/${roomId}/${eventId}`, plaintext));
  }

  /** A kept plaintext, if any. */
  getPlaintext<T>(roomId: string, eventId: string): T | undefined {
    const row = this.#prepare(
      'SELECT value FROM plaintexts WHERE room_id = ? AND event_id = ?',
    ).get(roomId, eventId) as { value: Uint8Array } | undefined;
    return row === undefined
      ? undefined
      : this.#open<T>(`plaintexts/${roomId}/${eventId}`, row.value);
  }

  /**
   * Replay check (spec: Megolm "message replays"): records that `eventId` used `messageIndex`
   * of `sessionId`. Returns false when a different event already used that index. New records
   * are written in batches ({@link flush}), one transaction per batch, because a history
   * decrypts thousands of messages at once.
   */
  checkReplay(sessionId: string, messageIndex: number, eventId: string): boolean {
    const seen = this.#replayRecords(sessionId);
    const used = seen.get(messageIndex);
    if (used !== undefined) return used === eventId;
    seen.set(messageIndex, eventId);
    this.#replayPending.push({ sessionId, messageIndex, eventId });
    if (this.#replayPending.length >= WRITE_BATCH) this.flush();
    return true;
  }

  /**
   * The replay records of a session, read from SQLite in one query the first time the session
   * is seen in this process (a history decrypts thousands of messages of one session, so a
   * lookup per message would cost a query each).
   */
  #replayRecords(sessionId: string): Map<number, string> {
    let seen = this.#replaySeen.get(sessionId);
    if (seen !== undefined) return seen;
    if (this.#replaySeen.size >= REPLAY_SESSIONS_CACHED) {
      // Pending records are written before a session leaves memory, so a reload sees them.
      this.flush();
      const oldest = this.#replaySeen.keys().next().value;
      if (oldest !== undefined) this.#replaySeen.delete(oldest);
    }
    const rows = this.#prepare(
      'SELECT message_index, event_id FROM replay WHERE session_id = ?',
    ).all(sessionId) as Array<{ message_index: number; event_id: string }>;
    seen = new Map(rows.map((r) => [r.message_index, r.event_id]));
    this.#replaySeen.set(sessionId, seen);
    return seen;
  }

  /**
   * Writes buffered timeline rows and replay records in one transaction, then truncates the WAL
   * if room keys were deleted or replaced since the last flush.
   */
  flush(): void {
    this.#flushPending();
    this.#truncateWal();
  }

  #flushPending(): void {
    if (this.#replayPending.length === 0 && this.#timelinePending.size === 0) return;
    const insertReplay = this.#prepare(
      'INSERT INTO replay (session_id, message_index, event_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    );
    const putRow = this.#prepare(
      `INSERT INTO timeline (room_id, pos, event_id, value) VALUES (?, ?, ?, ?)
         ON CONFLICT(room_id, event_id) DO UPDATE SET value = excluded.value`,
    );
    this.#db.exec('BEGIN');
    try {
      for (const r of this.#replayPending) insertReplay.run(r.sessionId, r.messageIndex, r.eventId);
      for (const r of this.#timelinePending.values()) {
        const sealed = this.#seal(`timeline/${r.roomId}/${r.eventId}`, r.event);
        putRow.run(r.roomId, r.pos, r.eventId, sealed);
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    this.#replayPending = [];
    this.#timelinePending.clear();
  }

  /** Closes the database and zeroes the derived keys. */
  close(): void {
    if (!this.#db.isOpen) return;
    try {
      this.flush();
      this.#db.close();
    } finally {
      this.#keys.valueKey.fill(0);
      this.#keys.pickleKey.fill(0);
      if (this.#lock !== undefined) {
        try {
          unlinkSync(this.#lock);
        } catch {
          // Already gone.
        }
      }
    }
  }
}

/** Whether a process with this PID runs (one owned by another user counts as running). */
/** Attempts to wait for a lock file that holds no PID yet (being written), and how long each. */
const LOCK_WAITS = 20;
const LOCK_WAIT_MS = 25;

function readLock(lock: string): string | undefined {
  try {
    return readFileSync(lock, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
