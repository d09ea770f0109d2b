// GET /_matrix/federation/v1/media/download/{mediaId}
// GET /_matrix/federation/v1/media/thumbnail/{mediaId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1mediadownloadmediaid
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1mediathumbnailmediaid
import { randomBytes } from 'node:crypto';

import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { clampTimeout, type Media } from '../../services/media/service.ts';
import { contentDisposition } from '../client/media.ts';
import type { FederationApp } from './routes.ts';

/**
 * The spec's answer: `multipart/mixed` with exactly two parts (RFC 2046 5.1, CRLF line ends),
 * the JSON metadata (`{}`) and the bytes with their `Content-Type` and `Content-Disposition`.
 */
function multipartResponse(media: Media): Response {
  const boundary = randomBytes(16).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n` +
      `--${boundary}\r\nContent-Type: ${media.contentType}\r\n` +
      `Content-Disposition: ${contentDisposition(media.contentType, media.filename)}\r\n\r\n`,
    'latin1',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const body = Buffer.concat([head, media.bytes, tail]);
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': `multipart/mixed; boundary=${boundary}`,
      'Content-Length': String(body.byteLength),
    },
  });
}

/** This server's own media only (a server asks the media's origin, never a cache). */
export function registerMedia(app: FederationApp, services: Services): void {
  const { media, ctx } = services;
  const local = (mediaId: string, query: URLSearchParams) =>
    media.get(ctx.config.serverName, mediaId, {
      allowRemote: false,
      timeoutMs: clampTimeout(query.get('timeout_ms')),
    });
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/media/download/:mediaId',
    auth: 'server',
    handler: async ({ params, query }) => multipartResponse(await local(params.mediaId, query)),
  });
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/media/thumbnail/:mediaId',
    auth: 'server',
    handler: async ({ params, query }) => {
      const found = await local(params.mediaId, query);
      // No image scaler: an image is its own thumbnail, as on the client API.
      if (!found.contentType.toLowerCase().startsWith('image/')) {
        throw new MatrixError(400, 'M_UNKNOWN', 'This server cannot thumbnail this content');
      }
      return multipartResponse(found);
    },
  });
}
