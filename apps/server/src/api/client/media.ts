// POST /_matrix/media/v3/upload (and r0)
// GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
// GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (and r0; deprecated)
// GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} (and the deprecated v3/r0 ones)
// GET /_matrix/client/v1/media/config, GET /_matrix/media/v3/config (and r0; deprecated)
// GET /_matrix/client/v1/media/preview_url, GET /_matrix/media/v3/preview_url (and r0; deprecated)
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixmediav3upload
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediadownloadservernamemediaid
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediathumbnailservernamemediaid
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediaconfig
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { clampTimeout, type GetOptions, type Media } from '../../services/media/service.ts';
import type { ClientApp } from './routes.ts';

/** Spec "Serving inline content": the types that may be served `inline`; others `attachment`. */
const INLINE_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/** Spec "Content repository": the recommended Content-Security-Policy for served media. */
const CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';";

/** `Content-Disposition` (RFC 6266): a quoted ASCII file name, or RFC 8187 `filename*`. */
export function contentDisposition(contentType: string, filename: string | undefined): string {
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const type = INLINE_TYPES.has(base) ? 'inline' : 'attachment';
  if (filename === undefined || filename === '') return type;
  if (/^[\x20-\x7e]*$/.test(filename) && !/["\\]/.test(filename)) {
    return `${type}; filename="${filename}"`;
  }
  return `${type}; filename*=utf-8''${encodeURIComponent(filename)}`;
}

function mediaResponse(media: Media, filename: string | undefined): Response {
  return new Response(media.bytes, {
    status: 200,
    headers: {
      'Content-Type': media.contentType,
      'Content-Disposition': contentDisposition(media.contentType, filename ?? media.filename),
      'Content-Security-Policy': CSP,
      'Cross-Origin-Resource-Policy': 'cross-origin',
      // Browsers must not guess another type than the one served (e.g. HTML in a text/plain).
      'X-Content-Type-Options': 'nosniff',
      'Content-Length': String(media.bytes.byteLength),
    },
  });
}

/** Spec thumbnail: this server has no image scaler, so images are served whole (never smaller). */
function thumbnailResponse(media: Media): Response {
  if (!media.contentType.toLowerCase().startsWith('image/')) {
    throw new MatrixError(400, 'M_UNKNOWN', 'This server cannot thumbnail this content');
  }
  return mediaResponse(media, undefined);
}

/**
 * The upload endpoints' paths (below), whose bodies may be up to `media.max_upload_bytes`: the
 * HTTP thread reads them with that limit, every other body with the client API's.
 */
export const UPLOAD_PATH = /^\/_matrix\/media\/(?:v3|r0)\/upload(?:\/[^/]+\/[^/]+)?$/;

/**
 * A download's `allow_remote` (default true) and `timeout_ms` (default 20 s, capped). Without an
 * authenticated user (the deprecated `/_matrix/media/v3|r0` paths) never remote: spec v1.11
 * "Content repository" freezes those endpoints, which must not fetch newly remote media (only what
 * is local or already cached is served), so that no one without an account makes this server
 * contact an arbitrary server name.
 */
function getOptions(query: URLSearchParams, user: unknown): GetOptions {
  return {
    allowRemote: user !== undefined && user !== null && query.get('allow_remote') !== 'false',
    timeoutMs: clampTimeout(query.get('timeout_ms')),
  };
}

export function registerMedia(app: ClientApp, services: Services): void {
  const { media } = services;

  for (const version of ['v3', 'r0']) {
    app.endpoint({
      method: 'POST',
      path: `/_matrix/media/${version}/upload`,
      auth: 'user',
      body: 'raw',
      maxBodyBytes: media.maxUploadBytes,
      rateLimit: true,
      handler: async ({ user, rawBody, query, context }) => {
        const filename = query.get('filename') ?? undefined;
        const contentType = context.req.header('content-type') ?? 'application/octet-stream';
        const uri = await media.upload(user.userId, rawBody, contentType, filename);
        return { content_uri: uri };
      },
    });
  }

  const config = () => ({ 'm.upload.size': media.maxUploadBytes });
  app.endpoint({
    method: 'GET',
    path: '/_matrix/client/v1/media/config',
    auth: 'user',
    handler: config,
  });

  // Authenticated (v1) and the deprecated unauthenticated (v3, r0: matrix-nio) paths.
  const prefixes = [
    { prefix: '/_matrix/client/v1/media', auth: 'user' as const },
    { prefix: '/_matrix/media/v3', auth: 'optional-user' as const },
    { prefix: '/_matrix/media/r0', auth: 'optional-user' as const },
  ];
  for (const { prefix, auth } of prefixes) {
    if (auth !== 'user') {
      app.endpoint({ method: 'GET', path: `${prefix}/config`, auth, handler: config });
    }
    app.endpoint({
      method: 'GET',
      path: `${prefix}/download/:serverName/:mediaId`,
      auth,
      handler: async ({ params, query, user }) =>
        mediaResponse(
          await media.get(params.serverName, params.mediaId, getOptions(query, user)),
          undefined,
        ),
    });
    app.endpoint({
      method: 'GET',
      path: `${prefix}/download/:serverName/:mediaId/:fileName`,
      auth,
      handler: async ({ params, query, user }) =>
        mediaResponse(
          await media.get(params.serverName, params.mediaId, getOptions(query, user)),
          params.fileName,
        ),
    });
    // Only when `media.url_preview.enabled` (off by default): otherwise not served at all, 404
    // `M_UNRECOGNIZED`, as Synapse, which registers these paths only when previews are on.
    if (media.previews.enabled) {
      app.endpoint({
        method: 'GET',
        path: `${prefix}/preview_url`,
        auth: 'user',
        rateLimit: true,
        handler: async ({ user, query }) => {
          const url = query.get('url');
          if (url === null || url === '') throw MatrixError.missingParam('url is required');
          return media.previews.preview(user.userId, url);
        },
      });
    }
    app.endpoint({
      method: 'GET',
      path: `${prefix}/thumbnail/:serverName/:mediaId`,
      auth,
      handler: async ({ params, query, user }) =>
        thumbnailResponse(
          await media.get(params.serverName, params.mediaId, getOptions(query, user)),
        ),
    });
  }
}
