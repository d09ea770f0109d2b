// POST /_matrix/media/v1/create
// PUT /_matrix/media/v3/upload/{serverName}/{mediaId}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixmediav1create
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixmediav3uploadservernamemediaid
import type { Services } from '../../services/index.ts';
import type { ClientApp } from './routes.ts';

/** Asynchronous uploads: an `mxc://` URI first, its content later (by its creator, once). */
export function registerMediaCreate(app: ClientApp, services: Services): void {
  const { media } = services;
  app.endpoint({
    method: 'POST',
    path: '/_matrix/media/v1/create',
    auth: 'user',
    rateLimit: true,
    handler: ({ user }) => media.create(user.userId),
  });
  app.endpoint({
    method: 'PUT',
    path: '/_matrix/media/v3/upload/:serverName/:mediaId',
    auth: 'user',
    body: 'raw',
    maxBodyBytes: media.maxUploadBytes,
    rateLimit: true,
    handler: async ({ user, params, rawBody, query, context }) => {
      await media.uploadTo(
        user.userId,
        params.serverName,
        params.mediaId,
        rawBody,
        context.req.header('content-type') ?? 'application/octet-stream',
        query.get('filename') ?? undefined,
      );
      return {};
    },
  });
}
