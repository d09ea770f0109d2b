/**
 * The content repository (client-server-api "Content repository",
 * https://spec.matrix.org/v1.19/client-server-api/#content-repository): uploads become
 * `mxc://<server name>/<media ID>` and are served back with their content type and file name.
 * The file is on disk (fsynced) before its row commits, so a `content_uri` a client received
 * always resolves, even after a crash.
 *
 * Media of other servers is fetched with the federation `GET /_matrix/federation/v1/media/download`
 * (server-server-api "Content repository"), cached as a `remote_media` row and file, and served
 * from the cache afterwards; concurrent requests for one remote file share one fetch (remote.ts).
 * A cached file not served for `media.remote_media_lifetime` is deleted (row, then file) by a
 * periodic sweep; a later download fetches it again.
 * Asynchronous uploads (`POST /_matrix/media/v1/create`, then `PUT /_matrix/media/v3/upload/…`)
 * leave a `media_pending` row until the content comes; a download of such media waits for it up
 * to `timeout_ms`, then answers 504 `M_NOT_YET_UPLOADED`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import type { FederationClient } from '../federation/client.ts';
import { UrlPreviewService } from './preview.ts';
import { fetchRemoteMedia } from './remote.ts';
import {
  countPendingMedia,
  deleteExpiredPendingMedia,
  deleteExpiredRemoteMedia,
  deletePendingMedia,
  deleteRemoteMedia,
  insertMedia,
  insertPendingMedia,
  insertRemoteMedia,
  placeMediaFile,
  readMediaFile,
  removeMediaFile,
  removeMediaTemp,
  selectMedia,
  selectPendingMedia,
  selectRemoteMedia,
  touchRemoteMedia,
  writeMediaFile,
  writeMediaTemp,
} from './store.ts';

/** Spec "Security considerations": media IDs are `[A-Za-z0-9_-]` only (no path traversal). */
const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** A stored upload, ready to serve. */
export interface Media {
  readonly bytes: Uint8Array;
  readonly contentType: string;
  readonly filename: string | undefined;
}

/** How a download asks for media (`allow_remote`, `timeout_ms`). */
export interface GetOptions {
  readonly allowRemote?: boolean;
  readonly timeoutMs?: number;
}

/** Spec `timeout_ms` default; the cap this server imposes on it. */
const DEFAULT_TIMEOUT_MS = 20_000;
const MAX_TIMEOUT_MS = 60_000;
/** How long a created `mxc://` URI stays usable (the spec's recommended 24 hours). */
const PENDING_TTL_MS = 24 * 60 * 60_000;

/**
 * Default cap on concurrent outbound fetches chosen by users (remote media, URL previews): each
 * may buffer up to `media.max_remote_bytes` (or the upload limit), so their number bounds memory.
 */
const MAX_CONCURRENT_FETCHES = 8;
/** The `retry_after_ms` of a fetch refused at the cap. */
const FETCH_RETRY_MS = 2_000;

/**
 * A cached remote file's `last_access_ts` is written when it is served and the stored one is
 * older than this (or a quarter of the lifetime, if shorter): at most one write per file per
 * hour, however often it is downloaded. The sweep may so take a file up to this much early.
 */
const ACCESS_GRANULARITY_MS = 60 * 60_000;
/** How often the retention sweep runs (or the lifetime, if shorter). */
const SWEEP_INTERVAL_MS = 60 * 60_000;
/** Rows deleted per statement of a sweep. */
const SWEEP_BATCH = 500;

/** Server names only (appendices "Server Name"). */
const SERVER_NAME = /^[A-Za-z0-9.\-[\]:]{1,255}$/;

/** `timeout_ms` of a request, defaulted and capped. */
export function clampTimeout(value: string | null | undefined): number {
  if (value === null || value === undefined || value === '') return DEFAULT_TIMEOUT_MS;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0)
    throw MatrixError.invalidParam('timeout_ms must be an integer');
  return Math.min(Math.floor(ms), MAX_TIMEOUT_MS);
}

function notYetUploaded(): MatrixError {
  return new MatrixError(504, 'M_NOT_YET_UPLOADED', 'Content has not yet been uploaded');
}

export class MediaService {
  readonly #ctx: ServerContext;
  readonly #root: string;
  #federation: FederationClient | undefined;
  /** Remote fetches in flight, by `server/mediaId`: concurrent downloads share one. */
  readonly #inflight = new Map<string, Promise<Media>>();
  /** Downloads waiting for an asynchronous upload, by media ID. */
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Media IDs whose `PUT` is being written (a second one is refused at once). */
  readonly #uploading = new Set<string>();
  /** How many remote fetches this server made (tests: a cached file is not fetched again). */
  remoteFetches = 0;
  /**
   * At most this many new outbound fetches (remote media and URL previews together) run at once;
   * one more is refused at once with 429 `M_LIMIT_EXCEEDED` (no queue). Tests lower it.
   */
  maxConcurrentFetches = MAX_CONCURRENT_FETCHES;
  #fetching = 0;
  /** The retention sweep's timer (started by {@link startRetention}) and the sweep running. */
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<number> | undefined;
  #stopped = false;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    this.#root = join(ctx.config.dataDir, 'media');
  }

  /**
   * Starts the periodic sweep of cached remote files not served for `media.remote_media_lifetime`
   * (every hour, or every lifetime if shorter; the timer does not keep the process alive).
   */
  startRetention(): void {
    const lifetime = this.#ctx.config.media.remoteMediaLifetimeMs;
    if (lifetime === undefined || this.#sweepTimer !== undefined || this.#stopped) return;
    this.#sweepTimer = setInterval(
      () => {
        this.expireRemoteMedia().catch((error: unknown) =>
          this.#ctx.log.warn('the remote media sweep failed', { error }),
        );
      },
      Math.min(SWEEP_INTERVAL_MS, lifetime),
    );
    this.#sweepTimer.unref();
  }

  /** Stops the sweep's timer and waits for a sweep in progress (server shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    await this.#sweeping?.catch(() => undefined);
  }

  /**
   * Deletes the cached remote files last served before `now - media.remote_media_lifetime`: each
   * batch of rows first, then their files. A download that read the row before keeps the file
   * it opened (or, if the file is gone, fetches the media again); returns how many were deleted.
   * Runs one at a time (a second call while one runs shares it). Tests call it directly.
   */
  expireRemoteMedia(now: number = this.#ctx.now()): Promise<number> {
    this.#sweeping ??= this.#sweep(now).finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweep(now: number): Promise<number> {
    const lifetime = this.#ctx.config.media.remoteMediaLifetimeMs;
    if (lifetime === undefined) return 0;
    let deleted = 0;
    for (;;) {
      const fileIds = await deleteExpiredRemoteMedia(this.#ctx.db, now - lifetime, SWEEP_BATCH);
      for (const fileId of fileIds) await removeMediaFile(this.#root, fileId);
      deleted += fileIds.length;
      if (fileIds.length < SWEEP_BATCH || this.#stopped) break;
    }
    if (deleted > 0) this.#ctx.log.info('expired cached remote media', { deleted });
    return deleted;
  }

  /** Lets downloads of other servers' media fetch them (set when federation is enabled). */
  setFederation(client: FederationClient): void {
    this.#federation = client;
  }

  #previews: UrlPreviewService | undefined;

  /** URL previews (preview.ts), made on first use; their images are stored as uploads. */
  get previews(): UrlPreviewService {
    this.#previews ??= new UrlPreviewService(this.#ctx, this);
    return this.#previews;
  }

  /**
   * A slot for one outbound fetch chosen by a user (released by the function returned); 429
   * `M_LIMIT_EXCEEDED` when {@link maxConcurrentFetches} are running.
   */
  acquireFetchSlot(): () => void {
    if (this.#fetching >= this.maxConcurrentFetches) {
      throw MatrixError.limitExceeded(FETCH_RETRY_MS, 'Too many outbound media fetches');
    }
    this.#fetching += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#fetching -= 1;
    };
  }

  /** The upload size limit (`m.upload.size`). */
  get maxUploadBytes(): number {
    return this.#ctx.config.media.maxUploadBytes;
  }

  /** Stores an upload; returns its `mxc://` URI. */
  async upload(
    userId: string,
    bytes: Uint8Array,
    contentType: string,
    filename: string | undefined,
  ): Promise<string> {
    if (bytes.byteLength > this.maxUploadBytes) {
      throw MatrixError.tooLarge('Upload is larger than the server allows');
    }
    const mediaId = randomBytes(18).toString('base64url');
    await this.#store(mediaId, userId, bytes, contentType, filename);
    return `mxc://${this.#ctx.config.serverName}/${mediaId}`;
  }

  /**
   * Writes `bytes` to a temporary file of its own, then, in one transaction, runs `before` (which
   * may refuse by throwing), inserts the row and renames the file into place: the file is whole on
   * disk before the row commits, and only a writer whose transaction got this far (`before`
   * passed, e.g. it deleted the pending row) ever touches the media's path, so a racing writer
   * refused by `before` removes its temporary file only, never the committed one.
   */
  async #store(
    mediaId: string,
    userId: string,
    bytes: Uint8Array,
    contentType: string,
    filename: string | undefined,
    before?: (tx: SqlExecutor) => Promise<void>,
  ): Promise<void> {
    const temp = await writeMediaTemp(this.#root, mediaId, bytes);
    let placed = false;
    try {
      await this.#ctx.db.transaction(async (tx) => {
        await before?.(tx);
        await insertMedia(tx, {
          media_id: mediaId,
          user_id: userId,
          content_type: contentType,
          filename: filename ?? null,
          size: bytes.byteLength,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          created_ts: this.#ctx.now(),
        });
        await placeMediaFile(this.#root, temp, mediaId);
        placed = true;
      });
    } catch (error) {
      // Placed but not committed: the pending row is still there, so no one else has this file.
      if (placed) await removeMediaFile(this.#root, mediaId);
      else await removeMediaTemp(temp);
      throw error;
    }
  }

  /**
   * `POST /_matrix/media/v1/create`: a new `mxc://` URI whose content `userId` uploads later;
   * 429 `M_LIMIT_EXCEEDED` when `userId` already has `media.max_pending_uploads` pending.
   */
  async create(userId: string): Promise<{ content_uri: string; unused_expires_at: number }> {
    const now = this.#ctx.now();
    const mediaId = randomBytes(18).toString('base64url');
    const expires = now + PENDING_TTL_MS;
    await this.#ctx.db.transaction(async (tx) => {
      await deleteExpiredPendingMedia(tx, userId, now);
      if ((await countPendingMedia(tx, userId, now)) >= this.#ctx.config.media.maxPendingUploads) {
        throw MatrixError.limitExceeded(60_000, 'Too many pending media uploads');
      }
      await insertPendingMedia(tx, mediaId, userId, expires);
    });
    return {
      content_uri: `mxc://${this.#ctx.config.serverName}/${mediaId}`,
      unused_expires_at: expires,
    };
  }

  /**
   * `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`: the content of a created URI, by its
   * creator, once, before it expires (409 `M_CANNOT_OVERWRITE_MEDIA` once uploaded, 403 for
   * another user, 404 for an unknown or expired one).
   */
  async uploadTo(
    userId: string,
    serverName: string,
    mediaId: string,
    bytes: Uint8Array,
    contentType: string,
    filename: string | undefined,
  ): Promise<void> {
    if (serverName !== this.#ctx.config.serverName || !MEDIA_ID.test(mediaId)) {
      throw MatrixError.notFound('Unknown media ID');
    }
    if (bytes.byteLength > this.maxUploadBytes) {
      throw MatrixError.tooLarge('Upload is larger than the server allows');
    }
    const overwrite = () =>
      new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media already uploaded');
    // Taken before any check (no await in between): a second PUT in this process is refused here.
    if (this.#uploading.has(mediaId)) throw overwrite();
    this.#uploading.add(mediaId);
    try {
      if ((await selectMedia(this.#ctx.db, mediaId)) !== undefined) throw overwrite();
      const pending = await selectPendingMedia(this.#ctx.db, mediaId);
      if (pending === undefined || pending.expires_ts <= this.#ctx.now()) {
        throw MatrixError.notFound('Unknown media ID');
      }
      if (pending.user_id !== userId) {
        throw MatrixError.forbidden('This media ID was created by another user');
      }
      await this.#store(mediaId, userId, bytes, contentType, filename, async (tx) => {
        if ((await deletePendingMedia(tx, mediaId)) === 0) throw overwrite();
      });
    } finally {
      this.#uploading.delete(mediaId);
    }
    const waiters = this.#waiters.get(mediaId);
    this.#waiters.delete(mediaId);
    for (const wake of waiters ?? []) wake();
  }

  /**
   * Media to serve: a local upload (waiting up to `timeoutMs` for a created one not uploaded yet,
   * then 504 `M_NOT_YET_UPLOADED`), or another server's, from the cache or fetched over
   * federation unless `allowRemote` is false. 404 `M_NOT_FOUND` for unknown media.
   */
  async get(serverName: string, mediaId: string, options: GetOptions = {}): Promise<Media> {
    if (!MEDIA_ID.test(mediaId)) throw MatrixError.notFound('Media not found');
    if (serverName === this.#ctx.config.serverName) {
      return this.#local(mediaId, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    }
    if (!SERVER_NAME.test(serverName)) throw MatrixError.notFound('Media not found');
    const cached = await this.#cached(serverName, mediaId);
    if (cached !== undefined) return cached;
    if (options.allowRemote === false || this.#federation === undefined) {
      throw MatrixError.notFound('Media not found');
    }
    const key = `${serverName}/${mediaId}`;
    let fetching = this.#inflight.get(key);
    if (fetching === undefined) {
      const release = this.acquireFetchSlot();
      fetching = this.#fetch(this.#federation, serverName, mediaId, options).finally(() => {
        release();
        this.#inflight.delete(key);
      });
      this.#inflight.set(key, fetching);
    }
    return fetching;
  }

  async #local(mediaId: string, timeoutMs: number): Promise<Media> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await selectMedia(this.#ctx.db, mediaId);
      if (row !== undefined) {
        return {
          bytes: await readMediaFile(this.#root, mediaId),
          contentType: row.content_type,
          filename: row.filename ?? undefined,
        };
      }
      const pending = await selectPendingMedia(this.#ctx.db, mediaId);
      if (pending === undefined || pending.expires_ts <= this.#ctx.now()) {
        throw MatrixError.notFound('Media not found');
      }
      const left = deadline - Date.now();
      if (left <= 0) throw notYetUploaded();
      await this.#waitForUpload(mediaId, left);
    }
  }

  /** Resolves when `mediaId` is uploaded or after `ms`. */
  #waitForUpload(mediaId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(mediaId);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(mediaId, waiters);
      }
      const set = waiters;
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.#waiters.get(mediaId) === set) this.#waiters.delete(mediaId);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
  }

  async #cached(serverName: string, mediaId: string): Promise<Media | undefined> {
    const row = await selectRemoteMedia(this.#ctx.db, serverName, mediaId);
    if (row === undefined) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readMediaFile(this.#root, row.file_id);
    } catch (error) {
      // Expired by the sweep between the row and the file (or removed by hand): not cached any
      // more; its row, if still there, goes too, so that the media can be fetched again.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await deleteRemoteMedia(this.#ctx.db, row.file_id);
      return undefined;
    }
    const now = this.#ctx.now();
    const lifetime = this.#ctx.config.media.remoteMediaLifetimeMs ?? Number.POSITIVE_INFINITY;
    if (now - row.last_access_ts >= Math.min(ACCESS_GRANULARITY_MS, lifetime / 4)) {
      await touchRemoteMedia(this.#ctx.db, row.file_id, now).catch((error: unknown) =>
        this.#ctx.log.warn('could not record a remote media access', { error }),
      );
    }
    return { bytes, contentType: row.content_type, filename: row.filename ?? undefined };
  }

  async #fetch(
    client: FederationClient,
    serverName: string,
    mediaId: string,
    options: GetOptions,
  ): Promise<Media> {
    this.remoteFetches += 1;
    const { federation, media } = this.#ctx.config;
    const fetched = await fetchRemoteMedia(client, serverName, mediaId, {
      maxBytes: media.maxRemoteBytes,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ca: federation.caFile,
    });
    const fileId = randomBytes(18).toString('base64url');
    await writeMediaFile(this.#root, fileId, fetched.bytes);
    try {
      await this.#ctx.db.transaction((tx) =>
        insertRemoteMedia(tx, {
          server_name: serverName,
          media_id: mediaId,
          file_id: fileId,
          content_type: fetched.contentType,
          filename: fetched.filename ?? null,
          size: fetched.bytes.byteLength,
          sha256: createHash('sha256').update(fetched.bytes).digest('hex'),
          created_ts: this.#ctx.now(),
        }),
      );
    } catch (error) {
      await removeMediaFile(this.#root, fileId);
      // Cached meanwhile (another process, or a fetch that outlived its entry): serve that one.
      const cached = await this.#cached(serverName, mediaId);
      if (cached !== undefined) return cached;
      throw error;
    }
    return fetched;
  }
}
