/**
 * The content repository (client-server-api "Content repository",
 * https://spec.matrix.org/v1.19/client-server-api/#content-repository): uploads become
 * `mxc://<server name>/<media ID>` and are served back with their content type and file name.
 * Local media only (no federation yet). The file is on disk (fsynced) before its row commits, so
 * a `content_uri` a client received always resolves, even after a crash.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { MatrixError } from '@weft/transport';

import type { ServerContext } from '../core/context.ts';
import {
  insertMedia,
  readMediaFile,
  removeMediaFile,
  selectMedia,
  writeMediaFile,
} from './store.ts';

/** Spec "Security considerations": media IDs are `[A-Za-z0-9_-]` only (no path traversal). */
const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** A stored upload, ready to serve. */
export interface Media {
  readonly bytes: Uint8Array;
  readonly contentType: string;
  readonly filename: string | undefined;
}

export class MediaService {
  readonly #ctx: ServerContext;
  readonly #root: string;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    this.#root = join(ctx.config.dataDir, 'media');
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
    await writeMediaFile(this.#root, mediaId, bytes);
    try {
      await this.#ctx.db.transaction((tx) =>
        insertMedia(tx, {
          media_id: mediaId,
          user_id: userId,
          content_type: contentType,
          filename: filename ?? null,
          size: bytes.byteLength,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          created_ts: this.#ctx.now(),
        }),
      );
    } catch (error) {
      // No row, no media: do not leave the file behind.
      await removeMediaFile(this.#root, mediaId);
      throw error;
    }
    return `mxc://${this.#ctx.config.serverName}/${mediaId}`;
  }

  /** A stored upload; 404 `M_NOT_FOUND` for unknown or remote media. */
  async get(serverName: string, mediaId: string): Promise<Media> {
    if (serverName !== this.#ctx.config.serverName || !MEDIA_ID.test(mediaId)) {
      throw MatrixError.notFound('Media not found');
    }
    const row = await selectMedia(this.#ctx.db, mediaId);
    if (row === undefined) throw MatrixError.notFound('Media not found');
    return {
      bytes: await readMediaFile(this.#root, mediaId),
      contentType: row.content_type,
      filename: row.filename ?? undefined,
    };
  }
}
